import { DfError, describeError } from '@dragonflow/base';
import { isTableName } from '@dragonflow/nb';
import { match as buildMatch } from '@dragonflow/openflow';
import semver from 'semver';
import { REG_SRC_PORT } from '../pipeline/registers.js';
import { CORE_ONLY_STAGES, STAGES, isStage } from '../pipeline/stages.js';
import { matchFields } from '../reconciler/keys.js';
import { CORE_API_VERSION, isAppDescriptor, type AppDescriptor } from './descriptor.js';
import { puntTable, resolvePuntLimits } from './punt.js';

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
    checkPunt(d, c.package, options);
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

/** A punt table must be the app's and let the core match the source port (its suppression flows do). */
function checkPunt(d: AppDescriptor, pkg: string, options: unknown): void {
  if (!d.punt) return;
  const tables = new Map(Object.values(d.tables ?? {}).flatMap((list) => (list ?? []).map((t) => [t.name, t] as const)));
  if (!Array.isArray(d.punt.tables) || d.punt.tables.length === 0) throw problem(d.name, pkg, 'declares a punt path with no tables (punt.tables)');
  for (const { name, match } of d.punt.tables.map(puntTable)) {
    const t = tables.get(name);
    if (!t) throw problem(d.name, pkg, `punt.tables names '${name}', which is not one of its tables (${[...tables.keys()].join(', ') || 'none'})`, { table: name });
    let fields: string[];
    try {
      fields = [REG_SRC_PORT, ...matchFields(buildMatch(match ?? {}))];
    } catch (err) {
      throw problem(d.name, pkg, `punt table '${name}' has a bad match: ${describeError(err)}`, { table: name });
    }
    for (const field of fields) {
      if (t.match && !t.match.includes(field as never)) throw problem(d.name, pkg, `punt table '${name}' must declare match field ${field} (its suppression flows match it)`, { table: name, field });
    }
  }
  try {
    resolvePuntLimits(d.name, d.punt as never, options);
  } catch (err) {
    throw problem(d.name, pkg, err instanceof Error ? err.message.replace(/^app '[^']*': /, '') : String(err), { key: 'punt' });
  }
  const m = d.punt.meter;
  if (m && !(m.rate > 0 && Number.isInteger(m.rate) && m.burst >= 0 && Number.isInteger(m.burst))) {
    throw problem(d.name, pkg, `punt.meter needs integer rate > 0 and burst >= 0 (packets per second; got rate ${String(m.rate)}, burst ${String(m.burst)})`, { key: 'punt.meter' });
  }
}
