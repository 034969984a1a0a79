/**
 * Port security end to end, as a user drives it: `pnpm dfctl sandbox up --chassis 2`
 * with l2, portsec, dhcp and the proactive router; a network made with the stock
 * openstack CLI; VM a1 on chassis-1 and the target t2 on chassis-2:
 *
 * - a1 pings t2 from its own address; with a foreign IP added to its interface
 *   (`ping -I`) nothing reaches t2 (tcpdump in t2's namespace), and `dfctl trace` names
 *   a1's port rule and the drop;
 * - `openstack port set --no-security-group --disable-port-security`: the foreign IP
 *   gets through (t2 sees it and answers); `--enable-port-security`: dropped again;
 * - `openstack port set --allowed-address ip-address=…`: that address gets through;
 *   `port set --no-allowed-address`: dropped again;
 * - a1 changes its MAC: nothing reaches t2, even from its own IP;
 * - a VM with a DHCP client (udhcpc, DISCOVER from 0.0.0.0) gets its lease through
 *   port security and pings t2.
 *
 * Needs root, Open vSwitch, tcpdump, busybox and the openstack CLI (./scripts/setup). Never skips.
 */
import { requireBinary, run, type Vm } from '@dragonflow/sandbox';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ok, quiet, requireOpenstackCli } from '../api/openstack.js';
import { capture, pingStats } from '../sandbox/traffic.js';
import { dfOk, useDfSandbox } from '../sandbox-cli/df-cli.js';

const APPS = '@dragonflow/app-l2,@dragonflow/app-portsec,@dragonflow/app-dhcp,@dragonflow/app-l3-proactive';
const A1 = '10.43.1.11';
const T2 = '10.43.1.22';
/** The address a1 adds to its interface: nobody's in the NB. */
const FOREIGN = '10.43.1.200';
const NEW_MAC = 'fa:16:3e:99:99:99';

interface JsonTrace {
  hops: { table: number; tableName?: string; priority?: number; owner?: string }[];
  datapathActions?: string;
}

/** Pings t2 from `source` (a1's interface must hold it); returns the replies a1 got and what t2 saw of it (trimmed). */
async function pingFrom(a1: Vm, t2: Vm, source: string, filter = `icmp and src host ${source}`): Promise<{ received: number; seen: string }> {
  let received = -1;
  const seen = await capture(t2.netns, 'eth0', filter, 1, async () => {
    const r = await run('ping', ['-n', '-c', '3', '-i', '0.3', '-W', '1', '-I', source, T2], { netns: a1.netns, allowFailure: true, timeoutMs: 15_000 });
    received = Number(/(\d+) received/.exec(r.stdout)?.[1] ?? -1);
  }, 6_000);
  return { received, seen: seen.trim() };
}

/**
 * pingFrom until t2 sees the packets (`through`) or does not (`dropped`), for up to
 * 20 s: a port change made through df-api reaches the switch a moment after the
 * API answered. Returns the last outcome.
 */
async function waitFor(want: 'through' | 'dropped', a1: Vm, t2: Vm, source: string, filter?: string): Promise<{ received: number; seen: string }> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await pingFrom(a1, t2, source, filter);
    if ((r.seen !== '') === (want === 'through') || Date.now() > deadline) return r;
  }
}

describe('port security (dfctl sandbox, 2 chassis, l2 + portsec + dhcp + l3-proactive, openstack CLI)', () => {
  const s = useDfSandbox(['--chassis', '2', '--apps', APPS], {
    prepare: () => {
      requireOpenstackCli();
      for (const b of ['tcpdump', 'ping', 'busybox']) requireBinary(b);
    },
    checkUp: (out) => expect(out).toContain('@dragonflow/app-portsec'),
  });
  const { auth, env, vm } = s;
  /** chassis-1's portsec flows, to say what the switch held when an expectation failed. */
  const flows = () => dfOk(['flows', '--chassis', '1', '--table', 'portsec.port'], { env: env() });
  let portId = '';

  beforeAll(async () => {
    const a = auth();
    await ok(a, ['network', 'create', 'psnet']);
    await ok(a, ['subnet', 'create', '--network', 'psnet', '--subnet-range', '10.43.1.0/24', 'pssub']);
    await s.vmCreate('a1', 'psnet', 1, A1);
    await s.vmCreate('t2', 'psnet', 2, T2);
    portId = (await ok<{ id: string }>(a, ['port', 'show', 'a1'])).id;
    // The first packet may be spent on the underlay's ARP.
    await pingStats(vm('a1'), T2, 1);
    await run('ip', ['addr', 'add', `${FOREIGN}/32`, 'dev', 'eth0'], { netns: vm('a1').netns });
  }, 600_000);

  afterAll(async () => {
    await run('ip', ['addr', 'del', `${FOREIGN}/32`, 'dev', 'eth0'], { netns: vm('a1').netns, allowFailure: true });
  });

  test('its own address reaches t2 on the other chassis; a foreign IP on its interface is dropped, and dfctl trace names a1’s port rule', async () => {
    const a1 = vm('a1');
    const t2 = vm('t2');
    const own = await pingFrom(a1, t2, A1);
    expect(own.received).toBe(3);
    expect(own.seen).toContain(`${A1} > ${T2}: ICMP echo request`);
    expect(await pingFrom(a1, t2, FOREIGN), await flows()).toEqual({ received: 0, seen: '' });

    const flow = `in_port=${await a1.ofport()},icmp,dl_src=${a1.mac},dl_dst=${t2.mac},nw_src=${FOREIGN},nw_dst=${T2},nw_ttl=64`;
    const t = JSON.parse(await dfOk(['trace', '--sandbox', s.place().dir, '--chassis', '1', '--json', flow])) as JsonTrace;
    const names = t.hops.map((h) => h.tableName);
    expect(names.slice(0, 3)).toEqual(['core.classify', 'portsec.port', 'portsec.address']);
    expect(t.hops[1]!.owner).toBe(`portsec · port a1 (${portId.slice(0, 8)})`);
    // The address table's last rule, the app's shared drop.
    expect(t.hops[2]!.owner).toMatch(/^portsec · /);
    expect(t.hops[2]!.priority).toBe(1);
    expect(t.datapathActions).toBe('drop');
    // The same packet from a1's own address goes on to l2 and out of the tunnel.
    const mine = JSON.parse(await dfOk(['trace', '--sandbox', s.place().dir, '--chassis', '1', '--json', flow.replace(`nw_src=${FOREIGN}`, `nw_src=${A1}`)])) as JsonTrace;
    expect(mine.hops.map((h) => h.tableName)).toEqual(expect.arrayContaining(['portsec.port', 'portsec.address', 'l2.lookup', 'l2.egress']));
    expect(mine.datapathActions).toContain('tnl_push');
  }, 120_000);

  test('port security disabled (no security groups): the foreign IP gets through and is answered; enabled again: dropped', async () => {
    const a1 = vm('a1');
    const t2 = vm('t2');
    await quiet(auth(), ['port', 'set', '--no-security-group', '--disable-port-security', 'a1']);
    const shown = await ok<{ port_security_enabled: boolean }>(auth(), ['port', 'show', 'a1']);
    expect(shown.port_security_enabled).toBe(false);
    const open = await waitFor('through', a1, t2, FOREIGN);
    expect(open.seen, await flows()).toContain(`${FOREIGN} > ${T2}: ICMP echo request`);
    expect(open.received).toBeGreaterThan(0);
    await quiet(auth(), ['port', 'set', '--enable-port-security', 'a1']);
    expect(await waitFor('dropped', a1, t2, FOREIGN), await flows()).toEqual({ received: 0, seen: '' });
    expect((await pingFrom(a1, t2, A1)).received).toBe(3);
  }, 120_000);

  test('an allowed address pair lets that address through; cleared, it is dropped again', async () => {
    const a1 = vm('a1');
    const t2 = vm('t2');
    await quiet(auth(), ['port', 'set', '--allowed-address', `ip-address=${FOREIGN}`, 'a1']);
    const paired = await waitFor('through', a1, t2, FOREIGN);
    expect(paired.seen, await flows()).toContain(`${FOREIGN} > ${T2}: ICMP echo request`);
    expect(paired.received).toBeGreaterThan(0);
    await quiet(auth(), ['port', 'set', '--no-allowed-address', 'a1']);
    expect(await waitFor('dropped', a1, t2, FOREIGN), await flows()).toEqual({ received: 0, seen: '' });
  }, 120_000);

  test('a VM that changes its MAC is dropped, even from its own IP', async () => {
    const a1 = vm('a1');
    const t2 = vm('t2');
    const setMac = (mac: string) => run('ip', ['link', 'set', 'dev', 'eth0', 'address', mac], { netns: a1.netns });
    await setMac(NEW_MAC);
    try {
      expect(await pingFrom(a1, t2, A1, `ether src ${NEW_MAC}`), await flows()).toEqual({ received: 0, seen: '' });
    } finally {
      await setMac(a1.mac);
    }
    expect((await pingFrom(a1, t2, A1)).received).toBe(3);
  }, 120_000);

  test('a DHCP client behind port security gets its lease (DISCOVER from 0.0.0.0) and pings t2', async () => {
    await dfOk(['sandbox', 'vm', 'create', 'd1', '--network', 'psnet', '--chassis', '1', '--dhcp-client', 'udhcpc', '--ip', '10.43.1.33'], { env: env(), timeoutMs: 120_000 });
    const d1 = vm('d1');
    expect(d1.dhcpLease()?.ip).toBe('10.43.1.33');
    expect((await pingStats(d1, T2, 3)).received).toBe(3);
  }, 120_000);
});
