/**
 * The README demo (`./scripts/demo` → `pnpm df demo`): a two-chassis sandbox, the
 * topology made with the openstack CLI, a VM on each chassis ACTIVE, a ping across
 * the chassis that succeeds (the L2 app runs), how to explore, and a teardown that
 * leaves nothing behind. Needs root, Open vSwitch and the openstack CLI; never skips.
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { expect, test } from 'vitest';
import { requireOpenstackCli } from '../api/openstack.js';
import { df, ensureBuilt, leftovers, machineSnapshot, sandboxPlace } from './df-cli.js';

test('df demo: up, openstack CLI topology, two VMs ACTIVE on two chassis, ping across, explore hints, down', async () => {
  requireOpenstackCli();
  ensureBuilt();
  const place = await sandboxPlace();
  const before = await machineSnapshot();
  try {
    const r = await df(['demo', '--dir', place.dir, '--api-port', String(place.apiPort)]);
    const out = r.stdout;
    expect(r.stderr).toBe('');
    expect(out).toMatch(/▶ 1\. Bring up a sandbox/);
    expect(out).toMatch(/all 2 controllers connected to their switches, in sync and registered alive/);
    expect(out).toContain(`$ openstack --os-auth-type none --os-endpoint ${place.url} network create demo-net`);
    expect(out).toMatch(/vm1 on chassis-1: MAC \S+, IP 10\.0\.0\.\d+, port \S+ ACTIVE/);
    expect(out).toMatch(/vm2 on chassis-2: MAC \S+, IP 10\.0\.0\.\d+, port \S+ ACTIVE/);
    expect(out).toMatch(/3 packets transmitted, 3 received, 0% packet loss/);
    expect(out).toContain('✔ vm1 reaches vm2 across the chassis');
    expect(out).toMatch(/pnpm df sandbox status --dir /);
    expect(out).toMatch(/ovs-ofctl -O OpenFlow13 dump-flows unix:\S+br-int\.mgmt/);
    expect(out).toMatch(/▶ 6\. Tear down/);
    expect(r.code).toBe(0);
    const tag = /Starting sandbox (dfsb\w{4})/.exec(out)![1]!;
    const pids = [...out.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
    expect(await leftovers(tag, place.dir, pids, before, true)).toEqual([]);
  } finally {
    await df(['sandbox', 'down', '--dir', place.dir]);
    rmSync(dirname(place.dir), { recursive: true, force: true });
  }
}, 180_000);
