import { DfError } from '@dragonflow/base';
import { CORE_SLOT, MAX_APP_SLOTS, SCRATCH_REGISTERS, type ScratchRegister } from './registers.js';
import { CORE_APP, CORE_ONLY_STAGES, STAGES, isStage, type Stage } from './stages.js';
import type { AllocatedTable, MissBehaviour, TableSpec } from './tables.js';
import { allocateSharedZones } from './zones.js';

/** What one app asks of the pipeline. */
export interface PipelineRequest {
  readonly app: string;
  /** The npm package the app came from (shown by `dfctl pipeline`). */
  readonly package?: string;
  readonly tables?: { readonly [stage: string]: readonly TableSpec[] | undefined };
  /** Names of the scratch registers the app needs. */
  readonly registers?: readonly string[];
  /** Names of the fixed (shared) conntrack zones the app needs. */
  readonly zones?: readonly string[];
}

export interface StageRange {
  readonly stage: Stage;
  readonly first: number;
  readonly last: number;
}

export interface AllocatedApp {
  readonly name: string;
  readonly package?: string;
  /** Cookie slot: 0 is the core, apps 1.. in config order. */
  readonly slot: number;
  /** The app's contiguous range of tables inside each stage it uses, in pipeline order. */
  readonly ranges: readonly StageRange[];
  readonly tables: readonly AllocatedTable[];
  /** Declared scratch register name → register field. */
  readonly registers: Readonly<Record<string, ScratchRegister>>;
  /** Declared shared conntrack zone name → zone (docs/pipeline.md, "Conntrack zones"). */
  readonly zones: Readonly<Record<string, number>>;
}

/** OpenFlow table ids go up to 254 (255 is OFPTT_ALL). */
export const MAX_TABLE_ID = 254;

/** The core's built-in tables (classify first, dispatch last). */
export const CORE_TABLES: { readonly [S in Stage]?: readonly TableSpec[] } = {
  classify: [{ name: 'classify', match: ['in_port'], miss: 'next', description: 'local VM port → source port key, network key' }],
  dispatch: [{ name: 'dispatch', match: ['reg7'], miss: 'drop', description: 'destination port key → output port' }],
};

const NAME_RE = /^[a-z][a-z0-9-]*$/;

function fail(app: string, message: string, context: Record<string, unknown> = {}): never {
  throw new DfError('PIPELINE_INVALID', `app '${app}': ${message}`, { context: { app, ...context } });
}

/**
 * The allocator: stages in packet order; inside a stage the core's tables first,
 * then apps in the order given; inside an app its tables in declaration order.
 * Numbering is dense from 0. Each table's miss continues to the next table, except
 * the classify stage's last table and dispatch, which drop (a packet from nowhere
 * has no network; a packet to nowhere has no port).
 */
export function allocatePipeline(requests: readonly PipelineRequest[]): PipelineMap {
  if (requests.length > MAX_APP_SLOTS) throw new DfError('PIPELINE_INVALID', `${requests.length} apps exceed the ${MAX_APP_SLOTS} cookie slots`);
  const seen = new Set<string>([CORE_APP]);
  for (const r of requests) {
    if (!NAME_RE.test(r.app)) fail(r.app, 'app names are lower-case letters, digits and dashes, starting with a letter');
    if (seen.has(r.app)) fail(r.app, r.app === CORE_APP ? `'${CORE_APP}' is reserved for the core` : 'listed twice');
    seen.add(r.app);
    for (const [stage, specs] of Object.entries(r.tables ?? {})) {
      if (!isStage(stage)) fail(r.app, `unknown stage '${stage}' (stages: ${STAGES.join(', ')})`, { stage });
      if (CORE_ONLY_STAGES.includes(stage) && (specs?.length ?? 0) > 0) fail(r.app, `stage '${stage}' belongs to the core; apps cannot add tables to it`, { stage });
    }
    const names = new Set<string>();
    for (const specs of Object.values(r.tables ?? {})) {
      for (const t of specs ?? []) {
        if (!NAME_RE.test(t.name)) fail(r.app, `table name '${t.name}' must be lower-case letters, digits and dashes`, { table: t.name });
        if (names.has(t.name)) fail(r.app, `declares table '${t.name}' twice`, { table: t.name });
        names.add(t.name);
        if (t.miss !== undefined && !['next', 'drop', 'controller'].includes(t.miss)) fail(r.app, `table '${t.name}' has miss '${String(t.miss)}' (next, drop or controller)`);
      }
    }
  }

  const owners: { app: string; specs: readonly TableSpec[] }[][] = STAGES.map((stage) => [
    ...(CORE_TABLES[stage] ? [{ app: CORE_APP, specs: CORE_TABLES[stage] }] : []),
    ...requests.map((r) => ({ app: r.app, specs: r.tables?.[stage] ?? [] })),
  ]);
  const flat: { stage: Stage; app: string; spec: TableSpec }[] = [];
  STAGES.forEach((stage, i) => {
    for (const o of owners[i]!) for (const spec of o.specs) flat.push({ stage, app: o.app, spec });
  });
  if (flat.length - 1 > MAX_TABLE_ID) {
    throw new DfError('PIPELINE_INVALID', `the pipeline needs ${flat.length} tables; OpenFlow allows ${MAX_TABLE_ID + 1}`, { context: { tables: flat.length } });
  }
  const lastClassify = flat.findLastIndex((t) => t.stage === 'classify');
  const tables: AllocatedTable[] = flat.map((t, id) => {
    const miss: MissBehaviour = id === lastClassify || id === flat.length - 1 ? 'drop' : (t.spec.miss ?? 'next');
    return {
      id,
      stage: t.stage,
      app: t.app,
      name: t.spec.name,
      qualifiedName: `${t.app}.${t.spec.name}`,
      miss,
      next: id + 1 < flat.length ? id + 1 : null,
      ...(t.spec.match ? { match: new Set<string>(t.spec.match) } : {}),
      ...(t.spec.description ? { description: t.spec.description } : {}),
    };
  });

  const zones = allocateSharedZones(requests);
  let nextScratch = 0;
  const apps: AllocatedApp[] = [CORE_APP, ...requests.map((r) => r.app)].map((name, slot) => {
    const request = requests[slot - 1];
    const own = tables.filter((t) => t.app === name);
    const registers: Record<string, ScratchRegister> = {};
    for (const reg of request?.registers ?? []) {
      if (registers[reg]) fail(name, `declares register '${reg}' twice`);
      const field = SCRATCH_REGISTERS[nextScratch++];
      if (!field) fail(name, `needs register '${reg}', but all ${SCRATCH_REGISTERS.length} scratch registers are taken by earlier apps`, { register: reg });
      registers[reg] = field;
    }
    return {
      name,
      ...(request?.package ? { package: request.package } : {}),
      slot: slot === 0 ? CORE_SLOT : slot,
      ranges: STAGES.flatMap((stage) => {
        const inStage = own.filter((t) => t.stage === stage);
        return inStage.length ? [{ stage, first: inStage[0]!.id, last: inStage[inStage.length - 1]!.id }] : [];
      }),
      tables: own,
      registers,
      zones: zones.get(name) ?? {},
    };
  });
  return new PipelineMap(tables, apps);
}

/** The allocated pipeline: every table with its number, every app with its range. */
export class PipelineMap {
  private readonly byName = new Map<string, AllocatedTable>();
  private readonly byApp = new Map<string, AllocatedApp>();
  private readonly bySlot = new Map<number, AllocatedApp>();

  constructor(
    readonly tables: readonly AllocatedTable[],
    readonly apps: readonly AllocatedApp[],
  ) {
    for (const t of tables) this.byName.set(t.qualifiedName, t);
    for (const a of apps) {
      this.byApp.set(a.name, a);
      this.bySlot.set(a.slot, a);
    }
  }

  /** A table by `<app>.<name>`; throws naming the table when it does not exist. */
  table(qualifiedName: string): AllocatedTable {
    const t = this.byName.get(qualifiedName);
    if (!t) throw new DfError('PIPELINE_NO_TABLE', `no table '${qualifiedName}' in the pipeline`, { context: { table: qualifiedName } });
    return t;
  }

  tableById(id: number): AllocatedTable | undefined {
    return this.tables[id];
  }

  app(name: string): AllocatedApp {
    const a = this.byApp.get(name);
    if (!a) throw new DfError('PIPELINE_NO_APP', `no app '${name}' in the pipeline`, { context: { app: name } });
    return a;
  }

  hasApp(name: string): boolean {
    return this.byApp.has(name);
  }

  appBySlot(slot: number): AllocatedApp | undefined {
    return this.bySlot.get(slot);
  }

  /** The app owning table `id` (the core for its built-ins). */
  ownerOf(id: number): string | undefined {
    return this.tables[id]?.app;
  }

  /**
   * Where a packet entering `stage` goes: the stage's first table, or the first
   * table of the next non-empty stage (every stage may be empty but dispatch).
   */
  stageEntry(stage: Stage): number {
    const start = STAGES.indexOf(stage);
    const t = this.tables.find((x) => STAGES.indexOf(x.stage) >= start);
    return t!.id;
  }

  /** The first table after `stage` (skipping the rest of it). */
  stageExit(stage: Stage): number {
    const i = STAGES.indexOf(stage);
    if (i === STAGES.length - 1) throw new DfError('PIPELINE_NO_TABLE', `nothing follows the last stage '${stage}'`);
    return this.stageEntry(STAGES[i + 1]!);
  }

  /** The table numbers of one stage (possibly empty). */
  stageTables(stage: Stage): readonly AllocatedTable[] {
    return this.tables.filter((t) => t.stage === stage);
  }

  toJSON(): PipelineJson {
    return {
      tables: this.tables.map((t) => ({
        id: t.id,
        stage: t.stage,
        app: t.app,
        name: t.name,
        miss: t.miss === 'next' ? `next:${t.next}` : t.miss,
        ...(t.match ? { match: [...t.match] } : {}),
      })),
      apps: this.apps.map((a) => ({
        name: a.name,
        ...(a.package ? { package: a.package } : {}),
        slot: a.slot,
        ranges: Object.fromEntries(a.ranges.map((r) => [r.stage, rangeText(r)])),
        registers: a.registers,
        ...(Object.keys(a.zones).length > 0 ? { zones: a.zones } : {}),
      })),
    };
  }

  /** The human table map printed by `dfctl pipeline`. */
  format(): string {
    const rows = this.tables.map((t) => [String(t.id), t.stage, t.qualifiedName, t.miss === 'next' ? `→ ${t.next}` : t.miss]);
    const head = ['table', 'stage', 'name', 'miss'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]): string =>
      r
        .map((c, i) => (i === 0 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd();
    const out = [line(head), ...rows.map(line), '', 'apps (cookie slot, package: table ranges per stage; scratch registers):'];
    for (const a of this.apps) {
      const regs = [...Object.entries(a.registers).map(([k, v]) => `${k}=${v}`), ...Object.entries(a.zones).map(([k, v]) => `zone ${k}=${v}`)];
      const ranges = a.ranges.map((r) => `${r.stage} ${rangeText(r)}`).join(', ') || 'no tables';
      out.push(`  ${String(a.slot).padStart(3)}  ${a.name}${a.package ? ` (${a.package})` : ''}: ${ranges}${regs.length ? `; ${regs.join(', ')}` : ''}`);
    }
    return out.join('\n') + '\n';
  }
}

function rangeText(r: StageRange): string {
  return r.first === r.last ? String(r.first) : `${r.first}-${r.last}`;
}

export interface PipelineJson {
  tables: { id: number; stage: Stage; app: string; name: string; miss: string; match?: string[] }[];
  apps: { name: string; package?: string; slot: number; ranges: Record<string, string>; registers: Record<string, string>; zones?: Record<string, number> }[];
}
