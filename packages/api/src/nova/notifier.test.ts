import { randomUUID } from 'node:crypto';
import { isDfError } from '@dragonflow/base';
import { afterEach, describe, expect, it } from 'vitest';
import { Harness } from '../../test/harness.js';
import { RecordingNova, novaEventsRequestProblem } from '@dragonflow/testing';
import { parseApiConfig } from '../config.js';
import { type PortFacts, floatingIpEvents, portEvents } from './events.js';
import { NovaNotifier } from './notifier.js';

const until = async (what: string, check: () => boolean, timeoutMs = 5000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const settings = (url: string) => ({ url, interface: 'public' as const, region: null, batchIntervalMs: 50, retries: 3, timeoutMs: 2000 });

let nova: RecordingNova | undefined;
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  await nova?.stop();
  h = nova = undefined;
});

describe('port events for Nova', () => {
  const vm = '2b3a4e5f-0000-4000-8000-000000000001';
  const facts = (status: string, over: Partial<PortFacts> = {}): PortFacts => ({ status, deviceId: vm, deviceOwner: 'compute:nova', addresses: '10.0.0.5', ...over });

  it('decides as Neutron: plugged on ACTIVE, failed on ERROR, unplugged on ACTIVE → DOWN, changed on new IPs, deleted on delete', () => {
    expect(portEvents('p', facts('DOWN'), facts('ACTIVE'))).toEqual([{ name: 'network-vif-plugged', server_uuid: vm, tag: 'p', status: 'completed' }]);
    expect(portEvents('p', facts('DOWN'), facts('ERROR'))).toEqual([{ name: 'network-vif-plugged', server_uuid: vm, tag: 'p', status: 'failed' }]);
    expect(portEvents('p', facts('ACTIVE'), facts('DOWN'))).toEqual([{ name: 'network-vif-unplugged', server_uuid: vm, tag: 'p', status: 'completed' }]);
    expect(portEvents('p', facts('ACTIVE'), facts('ACTIVE', { addresses: '10.0.0.6' }))).toEqual([{ name: 'network-changed', server_uuid: vm, tag: 'p' }]);
    expect(portEvents('p', facts('ACTIVE'), undefined)).toEqual([{ name: 'network-vif-deleted', server_uuid: vm, tag: 'p' }]);
    // Nothing for a port created DOWN, an unchanged port, or a port of no instance.
    expect(portEvents('p', undefined, facts('DOWN'))).toEqual([]);
    expect(portEvents('p', facts('ACTIVE'), facts('ACTIVE'))).toEqual([]);
    expect(portEvents('p', facts('DOWN', { deviceOwner: 'network:dhcp' }), facts('ACTIVE', { deviceOwner: 'network:dhcp' }))).toEqual([]);
    expect(portEvents('p', facts('DOWN', { deviceId: '' }), facts('ACTIVE', { deviceId: '' }))).toEqual([]);
  });

  it('a floating IP associated, moved or released is network-changed for each instance port it leaves or reaches', () => {
    const ports = new Map<string, PortFacts>([
      ['p1', facts('ACTIVE')],
      ['p2', facts('ACTIVE', { deviceId: '2b3a4e5f-0000-4000-8000-000000000002' })],
      ['r', facts('ACTIVE', { deviceOwner: 'network:router_interface' })],
    ]);
    const of = (id: string) => ports.get(id);
    expect(floatingIpEvents(null, { portId: 'p1', fixedIp: '10.0.0.5' }, of)).toEqual([{ name: 'network-changed', server_uuid: vm, tag: 'p1' }]);
    expect(floatingIpEvents({ portId: 'p1', fixedIp: '10.0.0.5' }, { portId: 'p2', fixedIp: '10.0.0.6' }, of).map((e) => e.tag)).toEqual(['p1', 'p2']);
    expect(floatingIpEvents({ portId: 'p1', fixedIp: '10.0.0.5' }, undefined, of)).toEqual([{ name: 'network-changed', server_uuid: vm, tag: 'p1' }]);
    expect(floatingIpEvents({ portId: 'p1', fixedIp: '10.0.0.5' }, { portId: 'p1', fixedIp: '10.0.0.5' }, of)).toEqual([]);
    expect(floatingIpEvents(undefined, null, of)).toEqual([]);
    expect(floatingIpEvents(null, { portId: 'r', fixedIp: '10.0.0.1' }, of)).toEqual([]);
  });

  it('the recording endpoint refuses what Nova\'s API reference does not allow', () => {
    const ok = { events: [{ name: 'network-vif-plugged', server_uuid: vm, tag: 'p', status: 'completed' }] };
    expect(novaEventsRequestProblem('POST', '/v2.1/os-server-external-events', 'application/json', ok)).toBeNull();
    expect(novaEventsRequestProblem('POST', '/v2.1/os-server-external-events', 'application/json', { events: [] })).toMatch(/non-empty/);
    expect(novaEventsRequestProblem('POST', '/v2.1/os-server-external-events', 'application/json', { events: [{ name: 'vif-plugged', server_uuid: vm }] })).toMatch(/not one of Nova's/);
    expect(novaEventsRequestProblem('POST', '/v2.1/os-server-external-events', 'application/json', { events: [{ name: 'network-changed', server_uuid: 'vm-1' }] })).toMatch(/not a UUID/);
    expect(novaEventsRequestProblem('POST', '/v2.1/os-server-external-events', 'application/json', { events: [{ ...ok.events[0], port: 'p' }] })).toMatch(/keys Nova does not take: port/);
    expect(novaEventsRequestProblem('POST', '/v2.1/os-server-external-events', 'application/json', { events: [{ ...ok.events[0], status: 'done' }] })).toMatch(/status done/);
  });
});

describe('df-api notifying Nova', () => {
  async function start(): Promise<{ net: string; sub: string }> {
    nova = await new RecordingNova().start();
    h = await Harness.start({ nova: { url: nova.url, batchIntervalMs: 100 } });
    const net = String((await h.network())['id']);
    const sub = String((await h.subnet(net, '10.0.0.0/24'))['id']);
    return { net, sub };
  }

  it('posts plugged, changed, unplugged and deleted for an instance\'s port, each as Nova\'s reference allows', async () => {
    const { net, sub } = await start();
    const vm = randomUUID();
    const port = String((await h!.port(net, { device_owner: 'compute:nova', device_id: vm }))['id']);
    const other = String((await h!.port(net, { device_owner: 'network:dhcp', device_id: 'dhcp' }))['id']);
    // df-controller marks them ACTIVE once their flows are in (it writes the NB, not the API).
    await h!.nb.modify('logical_port', port, (p) => ({ ...p, status: 'ACTIVE' }));
    await h!.nb.modify('logical_port', other, (p) => ({ ...p, status: 'ACTIVE' }));
    await until('network-vif-plugged', () => nova!.events.length >= 1);
    expect(nova!.events).toEqual([{ name: 'network-vif-plugged', server_uuid: vm, tag: port, status: 'completed' }]);

    expect((await h!.put(`/v2.0/ports/${port}`, { port: { fixed_ips: [{ subnet_id: sub, ip_address: '10.0.0.77' }] } })).status).toBe(200);
    await until('network-changed', () => nova!.events.length >= 2);
    await h!.nb.modify('logical_port', port, (p) => ({ ...p, status: 'DOWN' }));
    await until('network-vif-unplugged', () => nova!.events.length >= 3);
    expect((await h!.delete(`/v2.0/ports/${port}`)).status).toBe(204);
    await until('network-vif-deleted', () => nova!.events.length >= 4);
    expect(nova!.events.slice(1)).toEqual([
      { name: 'network-changed', server_uuid: vm, tag: port },
      { name: 'network-vif-unplugged', server_uuid: vm, tag: port, status: 'completed' },
      { name: 'network-vif-deleted', server_uuid: vm, tag: port },
    ]);
    expect(nova!.problems).toEqual([]);
    expect(nova!.requests[0]!.headers['x-openstack-nova-api-version']).toBe('2.1');
  });

  it('posts network-changed when a floating IP is associated with an instance\'s port and when it is released', async () => {
    const { net, sub } = await start();
    const ext = String((await h!.network({ 'router:external': true }))['id']);
    await h!.subnet(ext, '172.24.4.0/24', { enable_dhcp: false });
    const router = String((await h!.router({ external_gateway_info: { network_id: ext } }))['id']);
    expect((await h!.put(`/v2.0/routers/${router}/add_router_interface`, { subnet_id: sub })).status).toBe(200);
    const vm = randomUUID();
    const port = String((await h!.port(net, { device_owner: 'compute:nova', device_id: vm }))['id']);
    const fip = await h!.post('/v2.0/floatingips', { floatingip: { floating_network_id: ext, port_id: port } });
    expect(fip.status).toBe(201);
    await until('network-changed on association', () => nova!.events.length >= 1);
    expect((await h!.put(`/v2.0/floatingips/${String((fip.body['floatingip'] as { id: string }).id)}`, { floatingip: { port_id: null } })).status).toBe(200);
    await until('network-changed on release', () => nova!.events.length >= 2);
    expect(nova!.events).toEqual([
      { name: 'network-changed', server_uuid: vm, tag: port },
      { name: 'network-changed', server_uuid: vm, tag: port },
    ]);
    expect(nova!.problems).toEqual([]);
  });

  it('batches the events of one interval into one request', async () => {
    const { net } = await start();
    const vms = [randomUUID(), randomUUID(), randomUUID()];
    const ports: string[] = [];
    for (const vm of vms) ports.push(String((await h!.port(net, { device_owner: 'compute:nova', device_id: vm }))['id']));
    await Promise.all(ports.map((id) => h!.nb.modify('logical_port', id, (p) => ({ ...p, status: 'ACTIVE' }))));
    await until('three events', () => nova!.events.length >= 3);
    expect(nova!.requests).toHaveLength(1);
    expect(nova!.events.map((e) => e['server_uuid']).sort()).toEqual([...vms].sort());
  });

  it('tries a failed send again (5xx, refused connection) and gives up after the configured retries', async () => {
    nova = await new RecordingNova().start();
    const errors: string[] = [];
    const log = { ...silent, error: (_: object, msg: string) => void errors.push(msg) };
    const notifier = new NovaNotifier(settings(nova.url), undefined, log);
    const event = { name: 'network-vif-plugged' as const, server_uuid: randomUUID(), tag: 'p1', status: 'completed' as const };
    nova.failNext = [503, 500];
    notifier.enqueue([event]);
    await notifier.flush();
    expect(nova.events).toEqual([event]);
    nova.failNext = [503, 503, 503, 503];
    notifier.enqueue([{ ...event, tag: 'p2' }]);
    await notifier.flush();
    expect(nova.events).toHaveLength(1);
    expect(errors).toEqual([expect.stringMatching(/gave up sending 1 event\(s\) to Nova after 4 attempts: HTTP 503/)]);
    const closed = nova.url;
    await nova.stop();
    const gone = new NovaNotifier({ ...settings(closed), retries: 1 }, undefined, log);
    gone.enqueue([event]);
    await gone.flush();
    expect(errors[1]).toMatch(/after 2 attempts: connect ECONNREFUSED/);
  });

  it('needs a Nova endpoint: nova.url, or Keystone\'s catalog in keystone mode', () => {
    expect(() => parseApiConfig({ nova: {} })).toThrow(/nova.url: is required unless auth.mode is keystone/);
    const noCatalog = (() => {
      try {
        return new NovaNotifier({ ...settings(''), url: null }, undefined, silent);
      } catch (e) {
        return e;
      }
    })();
    expect(isDfError(noCatalog, 'NOVA_ENDPOINT_UNKNOWN')).toBe(true);
  });
});
