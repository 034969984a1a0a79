import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Harness, neutronError } from '../../test/harness.js';

let h: Harness;
let net: string;
let sub: string;
let ext: string;
let extSub: string;

beforeEach(async () => {
  h = await Harness.start();
  net = String((await h.network({ name: 'private' }))['id']);
  sub = String((await h.subnet(net, '10.0.0.0/24'))['id']);
  ext = String((await h.network({ name: 'public', 'router:external': true }))['id']);
  extSub = String((await h.subnet(ext, '172.24.4.0/24', { enable_dhcp: false }))['id']);
});
afterEach(async () => {
  await h.close();
});

describe('routers', () => {
  it('attaches a subnet through a new port holding its gateway IP, and detaches it (deleting the port)', async () => {
    const r = await h.router();
    const id = String(r['id']);
    expect(r).toMatchObject({ status: 'ACTIVE', admin_state_up: true, external_gateway_info: null, routes: [] });
    const add = await h.put(`/v2.0/routers/${id}/add_router_interface`, { subnet_id: sub });
    expect(add.status).toBe(200);
    expect(add.body).toMatchObject({ id, subnet_id: sub, subnet_ids: [sub], network_id: net, project_id: 'admin' });
    const port = (await h.get(`/v2.0/ports/${String(add.body['port_id'])}`)).body['port'];
    expect(port).toMatchObject({ device_owner: 'network:router_interface', device_id: id, fixed_ips: [{ subnet_id: sub, ip_address: '10.0.0.1' }], security_groups: [] });
    const again = await h.put(`/v2.0/routers/${id}/add_router_interface`, { subnet_id: sub });
    expect(neutronError(again).message).toBe(`Bad router request: Router already has a port on subnet ${sub}`);
    const rm = await h.put(`/v2.0/routers/${id}/remove_router_interface`, { subnet_id: sub });
    expect(rm.status).toBe(200);
    expect((await h.get(`/v2.0/ports/${String(add.body['port_id'])}`)).status).toBe(404);
    const none = await h.put(`/v2.0/routers/${id}/remove_router_interface`, { subnet_id: sub });
    expect(none.status).toBe(404);
    expect(neutronError(none).type).toBe('RouterInterfaceNotFoundForSubnet');
  });

  it('refuses overlapping subnets on one router', async () => {
    const other = String((await h.network())['id']);
    const overlapping = String((await h.subnet(other, '10.0.0.0/25'))['id']);
    const id = String((await h.router())['id']);
    await h.put(`/v2.0/routers/${id}/add_router_interface`, { subnet_id: sub });
    const before = h.revision;
    const r = await h.put(`/v2.0/routers/${id}/add_router_interface`, { subnet_id: overlapping });
    expect(r.status).toBe(400);
    expect(neutronError(r)).toMatchObject({ type: 'BadRequest', message: `Bad router request: Cidr 10.0.0.0/25 of subnet ${overlapping} overlaps with cidr 10.0.0.0/24 of subnet ${sub}` });
    expect(h.revision).toBe(before);
  });

  it('attaches an existing port', async () => {
    const other = String((await h.network())['id']);
    const s = String((await h.subnet(other, '10.1.0.0/24'))['id']);
    const p = await h.port(other, { fixed_ips: [{ ip_address: '10.1.0.254' }] });
    const id = String((await h.router())['id']);
    const add = await h.put(`/v2.0/routers/${id}/add_router_interface`, { port_id: p['id'] });
    expect(add.body).toMatchObject({ port_id: p['id'], subnet_id: s });
    const port = (await h.get(`/v2.0/ports/${String(p['id'])}`)).body['port'];
    expect(port).toMatchObject({ device_owner: 'network:router_interface', device_id: id });
    const both = await h.put(`/v2.0/routers/${id}/add_router_interface`, { port_id: p['id'], subnet_id: s });
    expect(neutronError(both).message).toBe('Bad router request: Cannot specify both subnet-id and port-id');
    const rm = await h.put(`/v2.0/routers/${id}/remove_router_interface`, { port_id: p['id'] });
    expect(rm.status).toBe(200);
  });

  it('sets, changes and clears the external gateway', async () => {
    const r = await h.router({ external_gateway_info: { network_id: ext } });
    const id = String(r['id']);
    const gw = r['external_gateway_info'] as { network_id: string; enable_snat: boolean; external_fixed_ips: { subnet_id: string; ip_address: string }[] };
    expect(gw).toEqual({ network_id: ext, enable_snat: true, external_fixed_ips: [{ subnet_id: extSub, ip_address: '172.24.4.2' }] });
    const gwPorts = (await h.get(`/v2.0/ports?device_owner=network:router_gateway&device_id=${id}`)).body['ports'] as { project_id: string }[];
    expect(gwPorts).toHaveLength(1);
    expect(gwPorts[0]!.project_id).toBe('');
    const snat = await h.put(`/v2.0/routers/${id}`, { router: { external_gateway_info: { network_id: ext, enable_snat: false, external_fixed_ips: [{ ip_address: '172.24.4.100' }] } } });
    expect(snat.body['router']).toMatchObject({ external_gateway_info: { network_id: ext, enable_snat: false, external_fixed_ips: [{ subnet_id: extSub, ip_address: '172.24.4.100' }] } });
    const internal = await h.put(`/v2.0/routers/${id}`, { router: { external_gateway_info: { network_id: net } } });
    expect(internal.status).toBe(400);
    expect(neutronError(internal).message).toBe(`Bad router request: Network ${net} is not an external network`);
    const member = await h.put(`/v2.0/routers/${id}`, { router: { external_gateway_info: { network_id: ext, enable_snat: true } } }, { 'x-roles': 'member' });
    expect(member.status).toBe(403);
    const clear = await h.put(`/v2.0/routers/${id}`, { router: { external_gateway_info: {} } });
    expect(clear.body['router']).toMatchObject({ external_gateway_info: null });
    expect((await h.get(`/v2.0/ports?device_owner=network:router_gateway`)).body['ports']).toEqual([]);
  });

  it('places a gateway on the live gateway chassis with the fewest routers, shown as the gateway port\'s binding:host_id', async () => {
    const chassis = async (name: string, gateway: boolean, live: boolean) => {
      const c = await h.nb.create('chassis', { name, tunnelIp: '192.0.2.1', gateway });
      if (live) await h.nb.create('chassis_liveness', { id: c.id, startedAt: new Date(0).toISOString(), incarnation: name, leaseTtlMs: 1000 });
      return c;
    };
    const hostOf = async (routerId: string) => ((await h.get(`/v2.0/ports?device_owner=network:router_gateway&device_id=${routerId}`)).body['ports'] as { 'binding:host_id': string }[])[0]!['binding:host_id'];
    // nothing alive yet: no placement, said in the log, and nothing recorded
    const early = String((await h.router({ external_gateway_info: { network_id: ext } }))['id']);
    expect(await hostOf(early)).toBe('');
    expect((await h.nb.require('logical_router', early)).externalGateway?.chassisIds).toEqual([]);

    const a = await chassis('chassis-3', true, true);
    const b = await chassis('chassis-2', true, true);
    await chassis('chassis-1', false, true);
    await chassis('chassis-4', true, false);
    // placed as soon as gateway chassis are alive: the lowest name of the two empty ones
    const deadline = Date.now() + 10_000;
    while ((await hostOf(early)) === '' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await hostOf(early)).toBe('chassis-2');
    expect((await h.nb.require('logical_router', early)).externalGateway?.chassisIds).toEqual([b.id, a.id]);
    // the next router goes to the gateway with fewer routers, the fallback list in the same order
    const second = String((await h.router({ external_gateway_info: { network_id: ext } }))['id']);
    expect(await hostOf(second)).toBe('chassis-3');
    expect((await h.nb.require('logical_router', second)).externalGateway?.chassisIds).toEqual([a.id, b.id]);
    // a change of the gateway's options keeps it where it is
    await h.put(`/v2.0/routers/${second}`, { router: { external_gateway_info: { network_id: ext, enable_snat: false } } });
    expect(await hostOf(second)).toBe('chassis-3');
    // chassis-2 dies (its lease is gone): its router's gateway port names the chassis that takes over
    const until = async (routerId: string, host: string) => {
      const end = Date.now() + 10_000;
      while ((await hostOf(routerId)) !== host && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      return hostOf(routerId);
    };
    await h.nb.delete('chassis_liveness', b.id);
    expect(await until(early, 'chassis-3')).toBe('chassis-3');
    // chassis-3 records its claim (as its controller does); chassis-2's return does not take the gateway back
    const claimed = await h.nb.require('chassis_liveness', a.id);
    await h.nb.update('chassis_liveness', { ...claimed, activeGateways: [early, second], gatewayEpochs: { [early]: 1, [second]: 0 } });
    await h.nb.create('chassis_liveness', { id: b.id, startedAt: new Date(0).toISOString(), incarnation: 'chassis-2 again', leaseTtlMs: 1000 });
    await new Promise((r) => setTimeout(r, 600));
    expect(await hostOf(early)).toBe('chassis-3');
  });

  it('takes a gateway on an external network without a subnet, as current Neutron: a gateway port without addresses', async () => {
    const bare = String((await h.network({ name: 'bare-ext', 'router:external': true }))['id']);
    const r = await h.router({ external_gateway_info: { network_id: bare } });
    expect(r['external_gateway_info']).toEqual({ network_id: bare, enable_snat: true, external_fixed_ips: [] });
    const gwPorts = (await h.get(`/v2.0/ports?device_owner=network:router_gateway&device_id=${String(r['id'])}`)).body['ports'] as { fixed_ips: unknown[] }[];
    expect(gwPorts).toHaveLength(1);
    expect(gwPorts[0]!.fixed_ips).toEqual([]);
    // an address asked for on a network without a subnet is still refused, naming it
    const asked = await h.post('/v2.0/routers', { router: { external_gateway_info: { network_id: bare, external_fixed_ips: [{ ip_address: '172.24.9.5' }] } } });
    expect(asked.status).toBe(400);
  });

  it('validates static routes and edits them atomically', async () => {
    const id = String((await h.router())['id']);
    await h.put(`/v2.0/routers/${id}/add_router_interface`, { subnet_id: sub });
    const ok = await h.put(`/v2.0/routers/${id}`, { router: { routes: [{ destination: '192.168.0.0/16', nexthop: '10.0.0.10' }] } });
    expect(ok.body['router']).toMatchObject({ routes: [{ destination: '192.168.0.0/16', nexthop: '10.0.0.10' }] });
    const far = await h.put(`/v2.0/routers/${id}`, { router: { routes: [{ destination: '192.168.0.0/16', nexthop: '10.9.0.10' }] } });
    expect(far.status).toBe(400);
    expect(neutronError(far)).toMatchObject({ type: 'InvalidRoutes' });
    expect(neutronError(far).message).toContain('the nexthop is not connected with router');
    const self = await h.put(`/v2.0/routers/${id}`, { router: { routes: [{ destination: '192.168.0.0/16', nexthop: '10.0.0.1' }] } });
    expect(neutronError(self).message).toContain('the nexthop is used by router');
    const add = await h.put(`/v2.0/routers/${id}/add_extraroutes`, { router: { routes: [{ destination: '172.16.0.0/12', nexthop: '10.0.0.11' }] } });
    expect((add.body['router'] as { routes: unknown[] }).routes).toHaveLength(2);
    const rm = await h.put(`/v2.0/routers/${id}/remove_extraroutes`, { router: { routes: [{ destination: '192.168.0.0/16', nexthop: '10.0.0.10' }] } });
    expect((rm.body['router'] as { routes: unknown[] }).routes).toEqual([{ destination: '172.16.0.0/12', nexthop: '10.0.0.11' }]);
    const needed = await h.put(`/v2.0/routers/${id}/remove_router_interface`, { subnet_id: sub });
    expect(neutronError(needed).type).toBe('RouterInterfaceInUseByRoute');
  });

  it('refuses to delete a router with interfaces and deletes its gateway port with it', async () => {
    const id = String((await h.router({ external_gateway_info: { network_id: ext } }))['id']);
    await h.put(`/v2.0/routers/${id}/add_router_interface`, { subnet_id: sub });
    const busy = await h.delete(`/v2.0/routers/${id}`);
    expect(busy.status).toBe(409);
    expect(neutronError(busy)).toMatchObject({ type: 'RouterInUse', message: `Router ${id} still has ports` });
    await h.put(`/v2.0/routers/${id}/remove_router_interface`, { subnet_id: sub });
    expect((await h.delete(`/v2.0/routers/${id}`)).status).toBe(204);
    expect((await h.get('/v2.0/ports?device_owner=network:router_gateway')).body['ports']).toEqual([]);
    expect((await h.get(`/v2.0/routers/${id}`)).status).toBe(404);
  });
});
