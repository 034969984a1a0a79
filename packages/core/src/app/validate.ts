import { DfError } from '@dragonflow/base';
import { isTableName } from '@dragonflow/nb';
import semver from 'semver';
import { CORE_ONLY_STAGES, STAGES, isStage } from '../pipeline/stages.js';
import { CORE_API_VERSION, isAppDescriptor, type AppDescriptor } from './descriptor.js';

/** An app the controller config lists, after import. */
export interface LoadedApp {
  /** The npm package it came from (or a label for apps given directly). */
  readonly package: string;
  readonly descriptor: AppDescriptor;
  /** Options after validation against the app's schema. */
  readonly options: unknown;
}

/** An app as the config gives it, before validation. */
export interface AppCandidate {
  readonly package: string;
  /** Whatever the package exported as default. */
  readonly descriptor: unknown;
  readonly options?: unknown;
}

function problem(app: string | undefined, pkg: string, message: string, context: Record<string, unknown> = {}): DfError {
  const who = app ? `app '${app}' (${pkg})` : `package '${pkg}'`;
  return new DfError('APP_INVALID', `${who}: ${message}`, { context: { app, package: pkg, ...context } });
}

/**
 * Checks a set of apps the way startup must: each is a descriptor, supports this
 * core's API, declares only known stages and model tables, takes the options it is
 * given; no app or package twice; required apps present; no conflicting pair.
 * Throws a DfError naming the app and the problem; returns the apps with parsed options.
 */
export function validateApps(candidates: readonly AppCandidate[], coreApiVersion = CORE_API_VERSION): LoadedApp[] {
  const out: LoadedApp[] = [];
  const byName = new Map<string, LoadedApp>();
  const packages = new Set<string>();
  for (const c of candidates) {
    if (packages.has(c.package)) throw problem(undefined, c.package, 'is listed twice in the config');
    packages.add(c.package);
    if (!isAppDescriptor(c.descriptor)) {
      throw problem(undefined, c.package, "does not export an app descriptor as its default export (expected defineApp({ name, coreApi, app, resync, … }))");
    }
    const d = c.descriptor;
    if (!semver.validRange(d.coreApi)) throw problem(d.name, c.package, `coreApi '${d.coreApi}' is not a semver range`);
    if (!semver.satisfies(coreApiVersion, d.coreApi)) {
      throw problem(d.name, c.package, `supports core API '${d.coreApi}', but this core provides ${coreApiVersion}`, { coreApi: d.coreApi });
    }
    const dup = byName.get(d.name);
    if (dup) throw problem(d.name, c.package, `has the same app name as ${dup.package}`);
    for (const stage of Object.keys(d.tables ?? {})) {
      if (!isStage(stage)) throw problem(d.name, c.package, `declares tables in unknown stage '${stage}' (stages: ${STAGES.join(', ')})`, { stage });
      if (CORE_ONLY_STAGES.includes(stage)) throw problem(d.name, c.package, `declares tables in stage '${stage}', which belongs to the core`, { stage });
    }
    const tableNames = new Set(Object.values(d.tables ?? {}).flatMap((list) => (list ?? []).map((t) => t.name)));
    for (const t of d.adoptTables ?? []) {
      if (!tableNames.has(t)) throw problem(d.name, c.package, `adoptTables names '${t}', which is not one of its tables (${[...tableNames].join(', ') || 'none'})`, { table: t });
    }
    for (const t of d.watches ?? []) {
      if (!isTableName(t)) throw problem(d.name, c.package, `watches unknown model table '${String(t)}'`, { table: t });
    }
    let options: unknown = c.options;
    if (d.options) {
      const parsed = d.options.safeParse(c.options ?? {});
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => `${i.path.length ? i.path.map(String).join('.') : '(options)'}: ${i.message}`);
        throw problem(d.name, c.package, `bad options: ${issues.join('; ')}`, { issues });
      }
      options = parsed.data;
    } else if (c.options !== undefined && !(typeof c.options === 'object' && c.options !== null && Object.keys(c.options).length === 0)) {
      throw problem(d.name, c.package, 'takes no options, but the config gives some');
    }
    const app: LoadedApp = { package: c.package, descriptor: d, options };
    byName.set(d.name, app);
    out.push(app);
  }
  for (const app of out) {
    const d = app.descriptor;
    for (const r of d.requires ?? []) {
      if (!byName.has(r)) throw problem(d.name, app.package, `requires app '${r}', which the config does not list`, { requires: r });
    }
    for (const x of d.conflicts ?? []) {
      const other = byName.get(x);
      if (other) throw problem(d.name, app.package, `conflicts with app '${x}' (${other.package}); enable only one of them`, { conflicts: x });
    }
  }
  return out;
}
