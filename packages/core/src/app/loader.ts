import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DfError, describeError } from '@dragonflow/base';
import { validateApps, type LoadedApp } from './validate.js';

/** One app in the controller config: an npm package name and its options. */
export interface AppConfigEntry {
  readonly package: string;
  readonly options?: unknown;
}

export interface LoadAppsOptions {
  /** Where package names resolve from (like `node` resolving from a file in this directory). */
  readonly baseDir: string;
  /**
   * Export conditions tried in order. The default picks the built `import`/`default`
   * entry; tests running on sources put '@dragonflow/source' first.
   */
  readonly conditions?: readonly string[];
}

type ExportsField = string | { readonly [k: string]: ExportsField } | null | undefined;

function pickExport(exp: ExportsField, conditions: readonly string[]): string | undefined {
  if (typeof exp === 'string') return exp;
  if (!exp || typeof exp !== 'object') return undefined;
  if ('.' in exp) return pickExport(exp['.'], conditions);
  for (const c of conditions) if (c in exp) {
    const hit = pickExport(exp[c], conditions);
    if (hit) return hit;
  }
  return undefined;
}

function packageNameAt(dir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name;
  } catch {
    return undefined;
  }
}

/**
 * Finds the directory of package `name` from `baseDir`, the way Node looks through
 * node_modules (a package also finds itself by name, as Node's self-reference does).
 */
export function findPackageDir(name: string, baseDir: string): string | undefined {
  let dir = resolve(baseDir);
  for (;;) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (existsSync(join(dir, 'package.json')) && packageNameAt(dir) === name) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** The file an import of package `name` from `baseDir` loads. */
export function resolveAppEntry(name: string, baseDir: string, conditions: readonly string[] = ['import', 'default']): string {
  const dir = findPackageDir(name, baseDir);
  if (!dir) {
    throw new DfError('APP_NOT_FOUND', `app package '${name}' is not installed where the config is resolved from (${baseDir}); add it as a dependency`, { context: { package: name, baseDir } });
  }
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { exports?: ExportsField; main?: string };
  const rel = pkg.exports !== undefined ? pickExport(pkg.exports, conditions) : (pkg.main ?? 'index.js');
  if (!rel) throw new DfError('APP_NOT_FOUND', `app package '${name}' exports no entry for conditions ${conditions.join(', ')}`, { context: { package: name } });
  const file = join(dir, rel);
  if (!existsSync(file)) throw new DfError('APP_NOT_FOUND', `app package '${name}' entry ${file} does not exist (build it: pnpm --filter ${name} build)`, { context: { package: name, file } });
  return file;
}

/**
 * Imports the apps the config lists (first-party and third-party alike, by package
 * name), and validates them as a set. Fails with a DfError naming the app and the
 * problem.
 */
export async function loadApps(entries: readonly AppConfigEntry[], options: LoadAppsOptions): Promise<LoadedApp[]> {
  const candidates = [];
  for (const e of entries) {
    const file = resolveAppEntry(e.package, options.baseDir, options.conditions ?? ['import', 'default']);
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
    } catch (cause) {
      throw new DfError('APP_IMPORT', `app package '${e.package}' failed to import: ${describeError(cause)}`, { cause, context: { package: e.package, file } });
    }
    candidates.push({ package: e.package, descriptor: mod.default, ...(e.options !== undefined ? { options: e.options } : {}) });
  }
  return validateApps(candidates);
}
