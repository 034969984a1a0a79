import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../main.js';

/** A config directory with three app packages installed, as a deployment would have them. */
function fixture(): string {
  const dir = mkdtempSync(join(tmpdir(), 'df-pipeline-'));
  const pkg = (name: string, descriptor: string): void => {
    const p = join(dir, 'node_modules', ...name.split('/'));
    mkdirSync(p, { recursive: true });
    writeFileSync(join(p, 'package.json'), JSON.stringify({ name, type: 'module', exports: { '.': { import: './index.js' } } }));
    writeFileSync(join(p, 'index.js'), `export default { coreApi: '^1.0.0', app: class {}, resync() {}, ${descriptor} };\n`);
  };
  pkg('@acme/l2', `name: 'l2', tables: { classify: [{ name: 'tunnel-ingress' }], services: [{ name: 'arp' }], 'l2-lookup': [{ name: 'lookup' }, { name: 'flood' }], egress: [{ name: 'egress' }] }`);
  pkg('@acme/router', `name: 'router', requires: ['l2'], conflicts: ['router-reactive'], tables: { l3: [{ name: 'routes' }, { name: 'resolve', miss: 'controller' }] }, registers: ['nexthop']`);
  pkg('@acme/router-reactive', `name: 'router-reactive', tables: { l3: [{ name: 'punt', miss: 'controller' }] }`);
  writeFileSync(join(dir, 'controller.yaml'), "apps:\n  - '@acme/l2'\n  - '@acme/router'\n");
  writeFileSync(join(dir, 'both-routers.yaml'), "apps: ['@acme/l2', '@acme/router', '@acme/router-reactive']\n");
  return dir;
}

let dir = '';
beforeAll(() => {
  dir = fixture();
});

const out: string[] = [];
const err: string[] = [];
function capture(): void {
  out.length = 0;
  err.length = 0;
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
}
afterEach(() => vi.restoreAllMocks());

describe('dfctl pipeline --config', () => {
  it('prints the table map (golden)', async () => {
    capture();
    expect(await main(['pipeline', '--config', join(dir, 'controller.yaml')])).toBe(0);
    const golden = new URL('../../test/pipeline.golden.txt', import.meta.url);
    if (process.env['DF_UPDATE_GOLDEN']) writeFileSync(golden, out.join(''));
    expect(out.join('')).toBe(readFileSync(golden, 'utf8'));
  });

  it('prints JSON with --json', async () => {
    capture();
    expect(await main(['pipeline', '--config', join(dir, 'controller.yaml'), '--json'])).toBe(0);
    const json = JSON.parse(out.join('')) as { tables: { id: number; app: string; name: string; miss: string }[]; apps: { name: string; registers: Record<string, string> }[] };
    expect(json.tables.find((t) => t.name === 'resolve')).toMatchObject({ app: 'router', miss: 'controller' });
    expect(json.apps.find((a) => a.name === 'router')!.registers).toEqual({ nexthop: 'reg0' });
  });

  it('fails naming the app when two conflicting apps are configured', async () => {
    capture();
    expect(await main(['pipeline', '--config', join(dir, 'both-routers.yaml')])).toBe(1);
    expect(err.join('')).toMatch(/app 'router' \(@acme\/router\): conflicts with app 'router-reactive'/);
  });

  it('fails naming the file and key of a bad config', async () => {
    writeFileSync(join(dir, 'bad.yaml'), 'apps: 3\n');
    capture();
    expect(await main(['pipeline', '--config', join(dir, 'bad.yaml')])).toBe(1);
    expect(err.join('')).toMatch(/bad\.yaml: apps: /);
  });
});
