import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDfError } from '@dragonflow/base';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineApp, type AppDescriptor } from './descriptor.js';
import { loadApps, resolveAppEntry } from './loader.js';
import { validateApps, type AppCandidate } from './validate.js';

class Nothing {}

const app = (name: string, extra: Partial<AppDescriptor> = {}): AppDescriptor =>
  defineApp({ name, coreApi: '^1.0.0', app: Nothing, resync: () => undefined, ...extra } as AppDescriptor);

const cand = (d: unknown, options?: unknown, pkg?: string): AppCandidate => ({
  package: pkg ?? `@x/${(d as { name?: string }).name ?? 'thing'}`,
  descriptor: d,
  ...(options !== undefined ? { options } : {}),
});

function fails(candidates: AppCandidate[], re: RegExp): void {
  try {
    validateApps(candidates);
    expect.unreachable('validation passed');
  } catch (e) {
    expect(isDfError(e, 'APP_INVALID')).toBe(true);
    expect((e as Error).message).toMatch(re);
  }
}

describe('validateApps', () => {
  it('accepts a consistent set and parses options', () => {
    const withOptions = app('mirror', { options: z.object({ port: z.number().int().default(9) }) });
    const out = validateApps([cand(app('l2')), cand(withOptions, { port: 3 }), cand(app('l3', { requires: ['l2'] }))]);
    expect(out.map((a) => a.descriptor.name)).toEqual(['l2', 'mirror', 'l3']);
    expect(out[1]!.options).toEqual({ port: 3 });
    expect(validateApps([cand(withOptions)])[0]!.options).toEqual({ port: 9 });
  });

  it('names the app and the problem', () => {
    fails([cand({ nope: true }, undefined, 'bad-pkg')], /package 'bad-pkg': does not export an app descriptor/);
    fails([cand(app('old', { coreApi: '^2.0.0' }))], /app 'old' \(@x\/old\): supports core API '\^2.0.0', but this core provides 1.4.0/);
    fails([cand(app('weird', { coreApi: 'banana' }))], /coreApi 'banana' is not a semver range/);
    fails([cand(app('a')), cand(app('a'), undefined, '@y/a')], /app 'a' \(@y\/a\): has the same app name as @x\/a/);
    fails([cand(app('a')), cand(app('a'))], /package '@x\/a': is listed twice/);
    fails([cand(app('l3', { requires: ['l2'] }))], /app 'l3' .*requires app 'l2', which the config does not list/);
    fails([cand(app('l3-reactive', { conflicts: ['l3-proactive'] })), cand(app('l3-proactive'))], /app 'l3-reactive' .*conflicts with app 'l3-proactive'/);
    fails([cand(app('x', { tables: { routing: [] } as never }))], /unknown stage 'routing'/);
    fails([cand(app('x', { tables: { dispatch: [{ name: 't' }] } as never }))], /stage 'dispatch', which belongs to the core/);
    fails([cand(app('x', { watches: ['ports' as never] }))], /watches unknown model table 'ports'/);
    fails([cand(app('x', { options: z.object({ port: z.number() }) }), { port: 'seven' })], /app 'x' .*bad options: port: /);
    fails([cand(app('x'), { verbose: true })], /takes no options/);
  });
});

describe('loadApps', () => {
  it('imports apps by package name from the base directory and validates them', async () => {
    const base = join(tmpdir(), `df-loader-${process.pid}-${Date.now()}`);
    const pkgDir = join(base, 'node_modules', '@acme', 'counter');
    mkdirSync(pkgDir, { recursive: true });
    writeFileSync(join(pkgDir, 'package.json'), JSON.stringify({ name: '@acme/counter', type: 'module', exports: { '.': { import: './index.js' } } }));
    writeFileSync(join(pkgDir, 'index.js'), "export default { name: 'counter', coreApi: '^1.0.0', app: class {}, resync() {} };\n");
    const broken = join(base, 'node_modules', 'broken-app');
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, 'package.json'), JSON.stringify({ name: 'broken-app', type: 'module', main: 'index.js' }));
    writeFileSync(join(broken, 'index.js'), 'throw new Error("boom at import");\n');

    const loaded = await loadApps([{ package: '@acme/counter' }], { baseDir: join(base, 'conf') });
    expect(loaded[0]!.descriptor.name).toBe('counter');
    expect(resolveAppEntry('@acme/counter', base)).toBe(join(pkgDir, 'index.js'));
    await expect(loadApps([{ package: '@acme/missing' }], { baseDir: base })).rejects.toThrow(/app package '@acme\/missing' is not installed/);
    await expect(loadApps([{ package: 'broken-app' }], { baseDir: base })).rejects.toThrow(/app package 'broken-app' failed to import: boom at import/);
  });
});
