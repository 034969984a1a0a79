import { ManualClock } from '@dragonflow/base';
import { ErrorType, MeterFlags, OfGroup, OfPort, act, type GroupMod, type MeterMod } from '@dragonflow/openflow';
import { describe, expect, it } from 'vitest';
import { OWNER_KINDS } from '../pipeline/registers.js';
import { ScriptedChannel } from './__tests__/scripted-channel.js';
import { flow, type DesiredFlow } from './flow.js';
import { group, switchGroupId } from './groups.js';
import { meter, switchMeterId } from './meters.js';
import { Reconciler, type OwnerId, type ReconcilerError } from './reconciler.js';

const SLOT = 3;
const owner: OwnerId = { app: 'svc', slot: SLOT, owner: 'port:p1', kind: OWNER_KINDS.port, tag: 1 };
/** Switch ids of the app's meter 1 and group 5. */
const METER = 0x0300_0001;
const GROUP = 0x0300_0005;
const OFPMMFC_BAD_RATE = 6;

const limit = (rate = 100) => meter.pktps(1, { rate, burst: 50 });
const failover = (first = 1, second = 2) =>
  group.ff(5, [
    { watchPort: first, actions: [act.output(first)] },
    { watchPort: second, actions: [act.output(second)] },
  ]);
/** The flow that uses both: metered, then out through the failover group. */
const metered = (): DesiredFlow[] => [flow(0, { priority: 10, match: { in_port: 7 }, meter: METER, actions: [act.group(GROUP)] })];

async function attached(ch = new ScriptedChannel(), clock?: ManualClock): Promise<{ r: Reconciler; ch: ScriptedChannel }> {
  const r = new Reconciler(clock ? { clock } : {});
  r.setComplete(1);
  await r.attach(ch);
  await r.flush();
  return { r, ch };
}

async function installed(): Promise<{ r: Reconciler; ch: ScriptedChannel }> {
  const s = await attached();
  s.r.replace(owner, metered(), [limit(), failover()]);
  await s.r.flush();
  s.ch.take();
  return s;
}

describe('meters and groups as desired state', () => {
  it('uses the app slot in the switch ids, so apps never share one', () => {
    expect(switchMeterId(SLOT, 1)).toBe(METER);
    expect(switchGroupId(SLOT, 5)).toBe(GROUP);
    expect(() => switchMeterId(SLOT, 0)).toThrow(/METER_INVALID|1\.\.16777215/);
    expect(() => switchMeterId(0xff, 0xffffff)).toThrow(/OFPM_MAX/);
  });

  it('installs the meter and the group before the flow that uses them', async () => {
    const { r, ch } = await attached();
    r.replace(owner, metered(), [limit(), failover()]);
    await r.flush();
    const sent = [...ch.sent];
    expect(ch.take()).toEqual(['meter add 0x3000001', 'group add 0x3000005', 'flow add 0/10']);
    expect(sent[0]).toMatchObject({ type: 'meter_mod', command: 'add', meterId: METER, flags: MeterFlags.PKTPS | MeterFlags.BURST, bands: [{ type: 'drop', rate: 100, burstSize: 50 }] } satisfies Partial<Omit<MeterMod, 'xid'>>);
    expect(sent[1]).toMatchObject({ type: 'group_mod', command: 'add', groupType: 'ff', groupId: GROUP } satisfies Partial<Omit<GroupMod, 'xid'>>);
    expect((sent[1] as GroupMod).buckets.map((b) => [b.watchPort, b.watchGroup])).toEqual([
      [1, OfGroup.ANY],
      [2, OfGroup.ANY],
    ]);
    expect(r.meterMods).toBe(1);
    expect(r.totals).toMatchObject({ adds: 1, groupMods: 1 });
  });

  it('sends nothing when the owner hands over the same state again', async () => {
    const { r, ch } = await installed();
    r.replace(owner, metered(), [limit(), failover()]);
    r.markRevision(2);
    await r.flush();
    expect(ch.take()).toEqual([]);
  });

  it('modifies a meter in place when only its band changes, and a group when only its buckets change', async () => {
    const { r, ch } = await installed();
    r.replace(owner, metered(), [limit(200), failover()]);
    await r.flush();
    const [mod] = ch.sent;
    expect(ch.take()).toEqual(['meter modify 0x3000001']);
    expect(mod).toMatchObject({ bands: [{ type: 'drop', rate: 200, burstSize: 50 }] });
    r.replace(owner, metered(), [limit(200), failover(2, 1)]);
    await r.flush();
    expect(ch.take()).toEqual(['group modify 0x3000005']);
    expect(ch.groups.get(GROUP)!.buckets.map((b) => b.watchPort)).toEqual([2, 1]);
  });

  it('removes the flow first, then the group, then the meter', async () => {
    const { r, ch } = await installed();
    r.remove(owner);
    await r.flush();
    expect(ch.take()).toEqual(['flow delete_strict 0/10', 'group delete 0x3000005', 'meter delete 0x3000001']);
    expect([ch.flows.size, ch.groups.size, ch.meters.size]).toEqual([0, 0, 0]);
    expect(r.ownersOf('svc')).toEqual([]);
  });

  it('adopts what it reads back after a restart: zero messages when nothing changed', async () => {
    const { ch } = await installed();
    // a new controller process: the same desired state, the switch as the first one left it
    const r2 = new Reconciler();
    r2.replace(owner, metered(), [limit(), failover()]);
    r2.setComplete(1);
    await r2.attach(ch);
    await r2.flush();
    expect(ch.take()).toEqual([]);
    expect(r2.syncedRevision).toBe(1);
  });

  it('after a reconnect fixes only what differs: a lost meter is added, a changed group modified, a stranger deleted', async () => {
    const { r, ch } = await installed();
    r.detach(ch);
    ch.meters.delete(METER);
    ch.groups.set(GROUP, { ...failover(9, 8), groupId: GROUP });
    ch.meters.set(0x0300_0009, { meterId: 0x0300_0009, flags: MeterFlags.KBPS, bands: [{ type: 'drop', rate: 1, burstSize: 0 }] });
    await r.attach(ch);
    await r.flush();
    expect(ch.take()).toEqual(['meter add 0x3000001', 'group modify 0x3000005', 'meter delete 0x3000009']);
  });

  it('reads a meter back as Open vSwitch reports it: without OFPMF_BURST its burst size is the rate, and that is no change', async () => {
    const ch = new ScriptedChannel();
    // what ovs-vswitchd 3.1 answers for 'meter=N,kbps,band=type=drop,rate=1000' (see the openflow meter_config_reply fixture)
    ch.meters.set(METER, { meterId: METER, flags: MeterFlags.KBPS, bands: [{ type: 'drop', rate: 1000, burstSize: 1000 }] });
    const r = new Reconciler();
    r.replace(owner, [], [meter.kbps(1, { rate: 1000 })]);
    r.setComplete(1);
    await r.attach(ch);
    await r.flush();
    expect(ch.take()).toEqual([]);
  });

  it('a channel that cannot read meters back gets the desired meters added again', async () => {
    const { r, ch } = await installed();
    r.detach(ch);
    const blind = new ScriptedChannel({ readsMeters: false });
    for (const [k, f] of ch.flows) blind.flows.set(k, f);
    for (const [k, g] of ch.groups) blind.groups.set(k, g);
    await r.attach(blind);
    await r.flush();
    expect(blind.take()).toEqual(['meter add 0x3000001']);
  });

  it('traces a refused meter-mod to its owner, retries it with backoff and recovers', async () => {
    const clock = new ManualClock();
    const { r, ch } = await attached(new ScriptedChannel(), clock);
    const errors: ReconcilerError[] = [];
    r.errors$.subscribe((e) => errors.push(e));
    ch.refuse = (m) => (m.type === 'meter_mod' ? { errorType: ErrorType.METER_MOD_FAILED, code: OFPMMFC_BAD_RATE } : undefined);
    r.replace(owner, metered(), [limit(), failover()]);
    await r.flush();
    expect(errors.map((e) => [e.app, e.owner, e.message])).toEqual([['svc', 'port:p1', 'OFPET_METER_MOD_FAILED/OFPMMFC_BAD_RATE']]);
    expect(r.failedOwners()).toMatchObject([{ app: 'svc', owner: 'port:p1', refused: 1, attempts: 1, errors: ['OFPET_METER_MOD_FAILED/OFPMMFC_BAD_RATE'] }]);
    ch.take();
    ch.refuse = () => undefined;
    clock.advance(1_000);
    await new Promise((res) => setImmediate(res));
    await r.flush();
    expect(ch.take()).toEqual(['meter add 0x3000001']);
    expect(r.failedOwners()).toEqual([]);
  });

  it('traces a refused group-mod to its owner; letting go of the group forgets the refusal', async () => {
    const { r, ch } = await attached();
    ch.refuse = (m) => (m.type === 'group_mod' ? { errorType: ErrorType.GROUP_MOD_FAILED, code: 0 } : undefined);
    r.replace(owner, metered(), [limit(), failover()]);
    await r.flush();
    expect(r.failureOf('svc', 'port:p1')).toMatchObject({ refused: 1, errors: ['OFPET_GROUP_MOD_FAILED/OFPGMFC_GROUP_EXISTS'] });
    r.replace(owner, [], [limit()]);
    await r.flush();
    expect(r.failedOwners()).toEqual([]);
  });

  it('holds back a meter another owner of the app already desires, until that owner lets go', async () => {
    const { r, ch } = await installed();
    const other: OwnerId = { ...owner, owner: 'port:p2', tag: 2 };
    r.replace(other, [], [limit(300)]);
    await r.flush();
    expect(ch.take()).toEqual([]);
    // the first owner lets go of its meter (its flow stops using it): the waiting one gets it
    r.replace(owner, [flow(0, { priority: 10, match: { in_port: 7 }, actions: [act.group(GROUP)] })], [failover()]);
    await r.flush();
    expect(ch.take()).toEqual(['meter modify 0x3000001', 'flow modify_strict 0/10']);
    expect(ch.meters.get(METER)!.bands).toEqual([{ type: 'drop', rate: 300, burstSize: 50 }]);
    expect(r.failedOwners()).toEqual([]);
  });

  it('refuses two meters with one id in one owner, changing nothing', async () => {
    const { r } = await installed();
    expect(() => r.replace(owner, metered(), [limit(), meter.kbps(1, { rate: 5 })])).toThrow(/METER_DUPLICATE|meter 1 twice/);
    expect(r.flowsOf('svc', 'port:p1')).toHaveLength(1);
  });
});

describe('meter and group builders', () => {
  it('build a drop band in pktps or kbps; burst only when asked', () => {
    expect(meter.kbps(2, { rate: 1000 })).toEqual({ meterId: 2, flags: MeterFlags.KBPS, bands: [{ type: 'drop', rate: 1000, burstSize: 0 }] });
    expect(meter.pktps(3, { rate: 10, burst: 5, stats: true }).flags).toBe(MeterFlags.PKTPS | MeterFlags.BURST | MeterFlags.STATS);
    expect(() => meter.pktps(1, { rate: 0 })).toThrow(/rate 0/);
  });

  it('build every group type with the watch fields and weights OpenFlow expects', () => {
    expect(group.all(1, [[act.output(1)], [act.output(2)]]).buckets.map((b) => [b.weight, b.watchPort])).toEqual([
      [0, OfPort.ANY],
      [0, OfPort.ANY],
    ]);
    expect(group.select(2, [{ weight: 3, actions: [act.output(1)] }]).buckets[0]!.weight).toBe(3);
    expect(group.indirect(3, [act.output(4)])).toMatchObject({ groupType: 'indirect', buckets: [{ actions: [act.output(4)] }] });
    expect(() => group.ff(4, [{ watchPort: OfPort.ANY, actions: [] }])).toThrow(/must watch a port or a group/);
  });
});
