#!/usr/bin/env node
// Sums vitest JSON reports into the one line CI counts: "N passed, N failed".
// A failed static check (typecheck/lint) counts as one failure; so does a test
// file that failed to load (vitest reports it as a failed suite with no tests).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, staticFailed = '0'] = process.argv.slice(2);
let passed = 0;
let failed = Number(staticFailed) > 0 ? 1 : 0;
const failures = [];
for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
  const report = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  passed += report.numPassedTests ?? 0;
  failed += report.numFailedTests ?? 0;
  for (const suite of report.testResults ?? []) {
    const failedTests = (suite.assertionResults ?? []).filter((t) => t.status === 'failed');
    if (suite.status === 'failed' && failedTests.length === 0) {
      failed += 1;
      failures.push(`${suite.name}: ${String(suite.message ?? 'failed to run').split('\n')[0]}`);
    }
    for (const t of failedTests) failures.push(`${suite.name}: ${t.fullName}`);
  }
}
if (failures.length) {
  console.log('\nFailures:');
  for (const f of failures) console.log('  ' + f);
}
if (Number(staticFailed) > 0) console.log('  static checks (typecheck/lint) failed');
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
