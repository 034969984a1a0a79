/**
 * `pnpm dfctl sandbox` as a user runs it: up (memory DB served by df-api), the
 * topology made with the real openstack CLI against df-api on 127.0.0.1, VMs on
 * two chassis whose ports become ACTIVE, ping across chassis through the L2 app,
 * status, exec, vm delete, a second `up` refused, and `down` leaving nothing:
 * no namespace, no process, no device in the root namespace, no file, no
 * registration. Needs root, Open vSwitch and the openstack CLI (./scripts/setup).
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ok, requireOpenstackCli } from '../api/openstack.js';
import { curlUnix, df, dfOk, ensureBuilt, leftovers, machineSnapshot, readServicesFile, readTopology, recordedPids, sandboxPlace, type Snapshot } from './df-cli.js';

let place: { dir: string; apiPort: number; url: string };
let before: Snapshot;
let tag = '';
let pids: number[] = [];
let down = false;
const env = (): Record<string, string> => ({ DF_SANDBOX_DIR: place.dir });

beforeAll(async () => {
  requireOpenstackCli();
  ensureBuilt();
  place = await sandboxPlace();
  before = await machineSnapshot();
}, 300_000);

afterAll(async () => {
  if (!down && tag) await df(['sandbox', 'down', '--dir', place.dir]);
  rmSync(dirname(place.dir), { recursive: true, force: true });
});

describe('dfctl sandbox (memory DB, 2 chassis, VXLAN)', () => {
  test('up starts the DB, df-api and two chassis whose controllers are connected and registered alive', async () => {
    const out = await dfOk(['sandbox', 'up', '--dir', place.dir, '--api-port', String(place.apiPort)]);
    tag = readTopology(place.dir).tag;
    pids = recordedPids(place.dir);
    expect(out).toMatch(/all 2 controllers connected to their switches, in sync and registered alive/);
    expect(out).toContain(`openstack --os-auth-type none --os-endpoint ${place.url} network list`);
    expect(out).toMatch(/apps: @dragonflow\/app-l2/);
    const s = readServicesFile(place.dir);
    expect(s.controllers.map((c) => c.chassis)).toEqual([1, 2]);
    // every controller answers on its unix socket from the root namespace
    for (const c of s.controllers) {
      const h = JSON.parse(await curlUnix(c.management.replace(/^unix:/, ''), '/healthz')) as { status: string; liveness: { alive: boolean }; openflow: { connected: boolean } };
      expect(h).toMatchObject({ status: 'ok', liveness: { alive: true }, openflow: { connected: true } });
      expect(await curlUnix(c.management.replace(/^unix:/, ''), '/metrics')).toMatch(/^df_controller_chassis_alive 1$/m);
    }
    const status = JSON.parse(await dfOk(['sandbox', 'status', '--json'], { env: env() })) as { chassis: { controller: { alive: boolean; health: { status: string } } }[] };
    expect(status.chassis.map((c) => [c.controller.alive, c.controller.health.status])).toEqual([
      [true, 'ok'],
      [true, 'ok'],
    ]);
  });

  test('a second up on the same directory is refused, saying why', async () => {
    const r = await df(['sandbox', 'up', '--dir', place.dir, '--api-port', String(place.apiPort)]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`a sandbox is already up in ${place.dir}`));
  });

  test('the openstack CLI makes a network and a subnet; VMs on both chassis get ports that become ACTIVE', async () => {
    const auth = { endpoint: place.url };
    await ok(auth, ['network', 'create', 'net1']);
    await ok(auth, ['subnet', 'create', '--network', 'net1', '--subnet-range', '10.20.0.0/24', 'subnet1']);
    const vm1 = await dfOk(['sandbox', 'vm', 'create', 'vm1', '--network', 'net1', '--chassis', '1', '--ip', '10.20.0.11'], { env: env() });
    const vm2 = await dfOk(['sandbox', 'vm', 'create', 'vm2', '--network', 'net1', '--subnet', 'subnet1', '--chassis', '2'], { env: env() });
    expect(vm1).toMatch(/^VM vm1 on chassis-1: MAC fa:16:3e(:[0-9a-f]{2}){3}, IP 10\.20\.0\.11 \(10\.20\.0\.0\/24, gateway 10\.20\.0\.1\), port [0-9a-f-]{36} ACTIVE \(\d+ ms after plug\)/);
    expect(vm2).toMatch(/^VM vm2 on chassis-2: .* ACTIVE/);
    const ports = await ok<{ Name: string; Status: string }[]>(auth, ['port', 'list', '--device-owner', 'compute:nova']);
    expect(ports.map((p) => [p.Name, p.Status]).sort()).toEqual([
      ['vm1', 'ACTIVE'],
      ['vm2', 'ACTIVE'],
    ]);
    const shown = await ok<{ 'binding_host_id': string }>(auth, ['port', 'show', 'vm2']);
    expect(shown.binding_host_id).toBe('chassis-2');
    // inside the VM: its address, the default route via the gateway, TX checksum offload off
    const addr = await dfOk(['sandbox', 'exec', 'vm1', '--', 'ip', '-4', '-o', 'addr', 'show', 'eth0'], { env: env() });
    expect(addr).toContain('10.20.0.11/24');
    expect(await dfOk(['sandbox', 'exec', 'vm1', '--', 'ip', 'route'], { env: env() })).toMatch(/default via 10\.20\.0\.1 dev eth0/);
    expect(await dfOk(['sandbox', 'exec', 'vm1', '--', 'ethtool', '-k', 'eth0'], { env: env() })).toMatch(/tx-checksumming: off/);
  });

  test('VMs on different chassis ping each other (L2 app, VXLAN); exec returns the command exit code', async () => {
    const vm2ip = readTopology(place.dir).vms.find((v) => v.name === 'vm2')!.ip.split('/')[0]!;
    const r = await df(['sandbox', 'exec', 'vm1', '--', 'ping', '-c', '3', '-i', '0.2', '-W', '2', vm2ip], { env: env() });
    expect(r.stdout).toMatch(/3 packets transmitted, 3 received, 0% packet loss/);
    expect(r.code).toBe(0);
    const failing = await df(['sandbox', 'exec', 'vm1', '--', 'sh', '-c', 'exit 7'], { env: env() });
    expect(failing.code).toBe(7);
  });

  test('status shows the chassis, the controllers, the VMs and their ports ACTIVE', async () => {
    const out = await dfOk(['sandbox', 'status'], { env: env() });
    expect(out).toMatch(/chassis-1 +\S+-c1 +172\.31\.0\.1 +yes +ok \(pid \d+\) +yes +yes +1\/1/);
    expect(out).toMatch(/chassis-2 +\S+-c2 +172\.31\.0\.2 +yes +ok \(pid \d+\) +yes +yes +1\/1/);
    expect(out).toMatch(/vm1 +1 +10\.20\.0\.11\/24 .* ACTIVE/);
    expect(out).toMatch(/vm2 +2 .* ACTIVE/);
  });

  test('vm delete removes the VM and its port', async () => {
    const portId = readTopology(place.dir).vms.find((v) => v.name === 'vm2')!.portId;
    expect(await dfOk(['sandbox', 'vm', 'delete', 'vm2'], { env: env() })).toMatch(new RegExp(`VM vm2 removed; port ${portId} deleted`));
    const ports = await ok<{ ID: string }[]>({ endpoint: place.url }, ['port', 'list']);
    expect(ports.map((p) => p.ID)).not.toContain(portId);
    expect(readTopology(place.dir).vms.map((v) => v.name)).toEqual(['vm1']);
  });

  test('down removes everything it created', async () => {
    const out = await dfOk(['sandbox', 'down'], { env: env() });
    down = true;
    expect(out).toMatch(/stopped df-controller of chassis-1/);
    expect(out).toMatch(/sandbox in .* is down/);
    expect(await leftovers(tag, place.dir, pids, before, true)).toEqual([]);
    expect(pids.length).toBe(1 + 2 + 2 * 2);
    // nothing answers on df-api's port any more
    await expect(fetch(`${place.url}/`)).rejects.toThrow();
  });
});
