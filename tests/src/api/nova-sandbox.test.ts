/**
 * Nova's side of a boot, end to end: a dfctl sandbox (one chassis, etcd NB DB, its
 * df-api and df-controller) and a second df-api on the same DB configured to notify
 * a recording Nova endpoint (which refuses any request Nova's API reference does not
 * allow). As Nova does, the test creates the instance's port with binding:host_id
 * set to the compute host's name, reads the binding (vif type and details), plugs
 * the VM's tap into br-int with the port's iface-id, and waits for
 * network-vif-plugged; then unplugs (network-vif-unplugged) and deletes the port
 * (network-vif-deleted).
 *
 * Needs root, Open vSwitch, etcd and the openstack CLI (./scripts/setup). Never skips.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { type ApiServerHandle, startApiServer } from '@dragonflow/api';
import { waitFor } from '@dragonflow/sandbox';
import { RecordingNova } from '@dragonflow/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ok, requireOpenstackCli } from './openstack.js';
import { useDfSandbox } from '../sandbox-cli/df-cli.js';

type Port = { id: string; status: string; mac_address: string; fixed_ips: { ip_address: string }[] } & Record<string, unknown>;

describe('Nova port binding and events with a sandbox VM', () => {
  const s = useDfSandbox(['--chassis', '1', '--db', 'etcd'], { prepare: requireOpenstackCli });
  let nova: RecordingNova;
  let api: ApiServerHandle;

  beforeAll(async () => {
    nova = await new RecordingNova().start();
    const services = JSON.parse(readFileSync(join(s.place().dir, 'df-sandbox.json'), 'utf8')) as { db: { apiEndpoints: string[] } };
    api = await startApiServer({ config: { listen: { port: 0 }, db: { driver: 'etcd', endpoints: services.db.apiEndpoints }, nova: { url: nova.url, batchIntervalMs: 200 } }, logger: false });
  });
  afterAll(async () => {
    await api?.close();
    await nova?.stop();
  });

  const call = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const r = await fetch(`${api.url}/v2.0${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
    return r.status === 204 ? {} : ((await r.json()) as Record<string, unknown>);
  };
  const eventsOf = (server: string) => nova.events.filter((e) => e['server_uuid'] === server);

  test('plug → ACTIVE → network-vif-plugged; unplug → network-vif-unplugged; delete → network-vif-deleted', async () => {
    await ok(s.auth(), ['network', 'create', 'nova-net']);
    await ok(s.auth(), ['subnet', 'create', '--network', 'nova-net', '--subnet-range', '10.60.0.0/24', 'nova-sub']);
    const net = (await ok<{ ID: string }[]>(s.auth(), ['network', 'list', '--name', 'nova-net']))[0]!.ID;
    const server = randomUUID();
    // Nova's compute manager: the port for the instance, bound to its host (the machine's name here).
    const port = (await call('POST', '/ports', { port: { network_id: net, device_owner: 'compute:nova', device_id: server, 'binding:host_id': hostname() } }))['port'] as Port;
    expect(port).toMatchObject({
      status: 'DOWN',
      'binding:vif_type': 'ovs',
      'binding:vnic_type': 'normal',
      'binding:vif_details': { port_filter: true, bridge_name: s.sandbox().chassis(1).state.integrationBridge, datapath_type: 'netdev', ovs_hybrid_plug: false },
    });
    expect(eventsOf(server)).toEqual([]);

    // os-vif plugs the tap with external_ids:iface-id = the port; df-controller binds it and sets it ACTIVE.
    await s.sandbox().createVm(1, { name: 'nv1', ip: `${port.fixed_ips[0]!.ip_address}/24`, mac: port.mac_address, portId: port.id });
    await waitFor(async () => ((await call('GET', `/ports/${port.id}`))['port'] as Port).status === 'ACTIVE', { what: `port ${port.id} ACTIVE`, timeoutMs: 30_000 });
    // Bound where Nova asked: the host's name stays in binding:host_id.
    expect(((await call('GET', `/ports/${port.id}`))['port'] as Port)['binding:host_id']).toBe(hostname());
    await waitFor(() => eventsOf(server).length >= 1, { what: 'network-vif-plugged at the recording Nova', timeoutMs: 10_000 });
    expect(eventsOf(server)).toEqual([{ name: 'network-vif-plugged', server_uuid: server, tag: port.id, status: 'completed' }]);

    await s.sandbox().deleteVm('nv1');
    await waitFor(() => eventsOf(server).length >= 2, { what: 'network-vif-unplugged', timeoutMs: 30_000 });
    await call('DELETE', `/ports/${port.id}`);
    await waitFor(() => eventsOf(server).length >= 3, { what: 'network-vif-deleted', timeoutMs: 10_000 });
    expect(eventsOf(server).slice(1)).toEqual([
      { name: 'network-vif-unplugged', server_uuid: server, tag: port.id, status: 'completed' },
      { name: 'network-vif-deleted', server_uuid: server, tag: port.id },
    ]);
    expect(nova.problems).toEqual([]);
  }, 180_000);
});
