import { readFileSync, writeFileSync } from 'node:fs';
import { isDfError } from '@dragonflow/base';
import { describe, expect, it } from 'vitest';
import { allocatePipeline, type PipelineRequest } from './allocator.js';
import { OWNER_KINDS, SCRATCH_REGISTERS, cookieKind, cookieKindName, cookieSlot, cookieTag, makeCookie, ownerHash, ownerKindOf } from './registers.js';

/** The app set the golden map guards: the tables the first-party apps declare. */
export const FIRST_PARTY: PipelineRequest[] = [
  { app: 'portsec', package: '@dragonflow/app-portsec', tables: { 'ingress-security': [{ name: 'anti-spoof', match: ['reg6', 'eth_src', 'eth_type', 'ipv4_src', 'ipv6_src', 'arp_spa', 'arp_sha'] }] } },
  {
    app: 'sg',
    package: '@dragonflow/app-sg',
    tables: { 'ingress-security': [{ name: 'egress-ct' }, { name: 'egress-rules' }], 'egress-security': [{ name: 'ingress-ct' }, { name: 'ingress-rules' }] },
    registers: ['conj'],
  },
  { app: 'dhcp', package: '@dragonflow/app-dhcp', tables: { services: [{ name: 'dhcp', match: ['metadata', 'reg6', 'eth_type', 'ip_proto', 'udp_src', 'udp_dst'] }] } },
  {
    app: 'l2',
    package: '@dragonflow/app-l2',
    tables: {
      classify: [{ name: 'tunnel-ingress' }, { name: 'provider-ingress' }],
      services: [{ name: 'arp-responder' }, { name: 'nd-responder' }],
      'l2-lookup': [{ name: 'lookup' }, { name: 'flood' }],
      egress: [{ name: 'egress' }],
    },
  },
  { app: 'l3-proactive', package: '@dragonflow/app-l3-proactive', tables: { l3: [{ name: 'router-ports', miss: 'next' }, { name: 'routes' }, { name: 'arp-resolve', miss: 'controller' }] } },
  { app: 'snat', package: '@dragonflow/app-snat', tables: { l3: [{ name: 'snat' }] }, registers: ['zone'] },
];

const golden = new URL('../../test/pipeline.golden.txt', import.meta.url);
const goldenJson = new URL('../../test/pipeline.golden.json', import.meta.url);

describe('allocatePipeline', () => {
  it('matches the golden table map of the first-party app set', () => {
    const map = allocatePipeline(FIRST_PARTY);
    if (process.env['DF_UPDATE_GOLDEN']) {
      writeFileSync(golden, map.format());
      writeFileSync(goldenJson, JSON.stringify(map.toJSON(), null, 2) + '\n');
    }
    expect(map.format()).toBe(readFileSync(golden, 'utf8'));
    expect(JSON.stringify(map.toJSON(), null, 2) + '\n').toBe(readFileSync(goldenJson, 'utf8'));
  });

  it('numbers densely: stages in packet order, core first, apps in config order, tables in declaration order', () => {
    const map = allocatePipeline(FIRST_PARTY);
    expect(map.table('core.classify').id).toBe(0);
    expect(map.table('l2.tunnel-ingress').id).toBe(1);
    expect(map.table('portsec.anti-spoof').id).toBe(3);
    expect(map.table('sg.egress-ct').id).toBe(4);
    expect(map.tables.map((t) => t.id)).toEqual(map.tables.map((_, i) => i));
    expect(map.tables.at(-1)!.qualifiedName).toBe('core.dispatch');
    // every table's miss continues to the next one, except the end of classify and dispatch
    for (const t of map.tables) {
      if (t.qualifiedName === 'l2.provider-ingress' || t.qualifiedName === 'core.dispatch') expect(t.miss).toBe('drop');
      else if (t.qualifiedName === 'l3-proactive.arp-resolve') expect(t.miss).toBe('controller');
      else expect(t.miss).toBe('next');
    }
    expect(map.app('l2').ranges).toEqual([
      { stage: 'classify', first: 1, last: 2 },
      { stage: 'services', first: 7, last: 8 },
      { stage: 'l2-lookup', first: 9, last: 10 },
      { stage: 'egress', first: 15, last: 15 },
    ]);
    expect(map.app('dhcp').slot).toBe(3);
  });

  it('is deterministic and depends on config order', () => {
    expect(allocatePipeline(FIRST_PARTY).format()).toBe(allocatePipeline(FIRST_PARTY).format());
    const swapped = allocatePipeline([FIRST_PARTY[1]!, FIRST_PARTY[0]!]);
    expect(swapped.table('sg.egress-ct').id).toBe(1);
    expect(swapped.table('portsec.anti-spoof').id).toBe(3);
  });

  it('still yields a working chain with no apps: classify drops unknown ports, dispatch is next', () => {
    const map = allocatePipeline([]);
    expect(map.tables.map((t) => [t.qualifiedName, t.miss])).toEqual([
      ['core.classify', 'drop'],
      ['core.dispatch', 'drop'],
    ]);
    expect(map.stageEntry('l3')).toBe(1);
    expect(map.stageExit('classify')).toBe(1);
  });

  it('finds stage entries across empty stages', () => {
    const map = allocatePipeline([FIRST_PARTY[3]!]);
    expect(map.stageEntry('ingress-security')).toBe(map.table('l2.arp-responder').id);
    expect(map.stageEntry('l3')).toBe(map.table('l2.egress').id);
    expect(map.stageExit('egress')).toBe(map.table('core.dispatch').id);
  });

  it('hands out scratch registers exclusively in config order', () => {
    const map = allocatePipeline(FIRST_PARTY);
    expect(map.app('sg').registers).toEqual({ conj: 'reg0' });
    expect(map.app('snat').registers).toEqual({ zone: 'reg1' });
    const greedy: PipelineRequest = { app: 'greedy', registers: SCRATCH_REGISTERS.map((_, i) => `r${i}`) };
    expect(() => allocatePipeline([greedy, { app: 'late', registers: ['x'] }])).toThrow(/app 'late': needs register 'x', but all 11 scratch registers are taken/);
  });

  it('refuses what the pipeline cannot hold, naming the app', () => {
    const bad = (requests: PipelineRequest[], re: RegExp): void => {
      try {
        allocatePipeline(requests);
        expect.unreachable();
      } catch (e) {
        expect(isDfError(e, 'PIPELINE_INVALID')).toBe(true);
        expect(String((e as Error).message)).toMatch(re);
      }
    };
    bad([{ app: 'x', tables: { routing: [{ name: 't' }] } }], /app 'x': unknown stage 'routing'/);
    bad([{ app: 'x', tables: { dispatch: [{ name: 't' }] } }], /stage 'dispatch' belongs to the core/);
    bad([{ app: 'x' }, { app: 'x' }], /app 'x': listed twice/);
    bad([{ app: 'core' }], /reserved for the core/);
    bad([{ app: 'x', tables: { l3: [{ name: 't' }], egress: [{ name: 't' }] } }], /declares table 't' twice/);
    bad([{ app: 'x', tables: { l3: Array.from({ length: 260 }, (_, i) => ({ name: `t${i}` })) } }], /needs 262 tables; OpenFlow allows 255/);
  });
});

describe('cookies', () => {
  it('put the app slot in the top byte, the owner kind in the next, the owner tag in the low 32 bits', () => {
    const c = makeCookie(7, 0xdeadbeef);
    expect(c).toBe(0x07000000deadbeefn);
    expect(cookieSlot(c)).toBe(7);
    expect(cookieTag(c)).toBe(0xdeadbeef);
    expect(cookieKind(c)).toBe(OWNER_KINDS.hash);
    const port = makeCookie(7, 42, OWNER_KINDS.port);
    const network = makeCookie(7, 42, OWNER_KINDS.network);
    const router = makeCookie(7, 42, OWNER_KINDS.router);
    expect(port).toBe(0x0701_0000_0000_002an);
    expect(network).toBe(0x0702_0000_0000_002an);
    expect(router).toBe(0x0703_0000_0000_002an);
    // one key in three key spaces: three owners, three cookies
    expect(new Set([port, network, router]).size).toBe(3);
    expect([port, network, router].map((x) => [cookieSlot(x), cookieKindName(x), cookieTag(x)])).toEqual([
      [7, 'port', 42],
      [7, 'network', 42],
      [7, 'router', 42],
    ]);
    // bits 47–32 stay reserved
    expect(makeCookie(255, 0xffffffff, 0xff) & 0x0000_ffff_0000_0000n).toBe(0n);
  });

  it('read the kind of a keyed owner from its text', () => {
    expect(ownerKindOf('port:3f2a')).toBe('port');
    expect(ownerKindOf('network:n1')).toBe('network');
    expect(ownerKindOf('router:r1')).toBe('router');
    expect(ownerKindOf('flood:n1/0')).toBeUndefined();
    expect(ownerKindOf('hash:x')).toBeUndefined();
    expect(ownerKindOf('port')).toBeUndefined();
    // prefixes that name members of Object.prototype are not kinds
    expect(ownerKindOf('constructor:x')).toBeUndefined();
    expect(ownerKindOf('toString:x')).toBeUndefined();
    expect(ownerKindOf('__proto__:x')).toBeUndefined();
  });

  it('hash owner strings stably', () => {
    expect(ownerHash('router:r1')).toBe(ownerHash('router:r1'));
    expect(ownerHash('router:r1')).not.toBe(ownerHash('router:r2'));
    expect(ownerHash('')).toBe(0x811c9dc5);
  });
});
