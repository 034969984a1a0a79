import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Harness, neutronError } from '../../test/harness.js';

let h: Harness;
let net: string;
let sub: string;
let ext: string;
let router: string;
let vm: { id: string; fixed_ips: { ip_address: string }[] };

beforeEach(async () => {
  h = await Harness.start();
  net = String((await h.network())['id']);
  sub = String((await h.subnet(net, '10.0.0.0/24'))['id']);
  ext = String((await h.network({ 'router:external': true }))['id']);
  await h.subnet(ext, '172.24.4.0/24', { enable_dhcp: false, allocation_pools: [{ start: '172.24.4.10', end: '172.24.4.20' }] });
  router = String((await h.router({ external_gateway_info: { network_id: ext } }))['id']);
  vm = (await h.port(net, { device_owner: 'compute:nova' })) as unknown as typeof vm;
});
afterEach(async () => {
  await h.close();
});

describe('floating IPs', () => {
  it('allocates from the external subnet through a network:floatingip port, associates through the router and disassociates', async () => {
    const r = await h.post('/v2.0/floatingips', { floatingip: { floating_network_id: ext } });
    expect(r.status).toBe(201);
    const fip = r.body['floatingip'] as Record<string, unknown>;
    expect(fip).toMatchObject({ floating_network_id: ext, floating_ip_address: '172.24.4.11', port_id: null, fixed_ip_address: null, router_id: null, status: 'DOWN', port_details: null });
    const fport = (await h.get(`/v2.0/ports?device_owner=network:floatingip`)).body['ports'] as { device_id: string; fixed_ips: { ip_address: string }[] }[];
    expect(fport).toHaveLength(1);
    expect(fport[0]).toMatchObject({ device_id: fip['id'], fixed_ips: [{ ip_address: '172.24.4.11' }] });

    const noRoute = await h.put(`/v2.0/floatingips/${String(fip['id'])}`, { floatingip: { port_id: vm.id } });
    expect(noRoute.status).toBe(404);
    expect(neutronError(noRoute)).toMatchObject({
      type: 'ExternalGatewayForFloatingIPNotFound',
      message: `External network ${ext} is not reachable from subnet ${sub}.  Therefore, cannot associate Port ${vm.id} with a Floating IP.`,
    });

    await h.put(`/v2.0/routers/${router}/add_router_interface`, { subnet_id: sub });
    const set = await h.put(`/v2.0/floatingips/${String(fip['id'])}`, { floatingip: { port_id: vm.id } });
    expect(set.status).toBe(200);
    expect(set.body['floatingip']).toMatchObject({ port_id: vm.id, fixed_ip_address: vm.fixed_ips[0]!.ip_address, router_id: router, status: 'ACTIVE', port_details: { device_owner: 'compute:nova', network_id: net } });

    const second = await h.post('/v2.0/floatingips', { floatingip: { floating_network_id: ext, port_id: vm.id } });
    expect(second.status).toBe(409);
    expect(neutronError(second).type).toBe('FloatingIPPortAlreadyAssociated');

    const rmIf = await h.put(`/v2.0/routers/${router}/remove_router_interface`, { subnet_id: sub });
    expect(neutronError(rmIf).type).toBe('RouterInterfaceInUseByFloatingIP');
    const clearGw = await h.put(`/v2.0/routers/${router}`, { router: { external_gateway_info: null } });
    expect(neutronError(clearGw).type).toBe('RouterExternalGatewayInUseByFloatingIp');

    const unset = await h.put(`/v2.0/floatingips/${String(fip['id'])}`, { floatingip: { port_id: null } });
    expect(unset.body['floatingip']).toMatchObject({ port_id: null, fixed_ip_address: null, router_id: null, status: 'DOWN' });
    expect((await h.delete(`/v2.0/floatingips/${String(fip['id'])}`)).status).toBe(204);
    expect((await h.get(`/v2.0/ports?device_owner=network:floatingip`)).body['ports']).toEqual([]);
  });

  it('loses its association when the port is deleted', async () => {
    await h.put(`/v2.0/routers/${router}/add_router_interface`, { subnet_id: sub });
    const fip = (await h.post('/v2.0/floatingips', { floatingip: { floating_network_id: ext, port_id: vm.id } })).body['floatingip'] as { id: string; port_id: string };
    expect(fip).toMatchObject({ port_id: vm.id, status: 'ACTIVE' });
    expect((await h.delete(`/v2.0/ports/${vm.id}`)).status).toBe(204);
    expect((await h.get(`/v2.0/floatingips/${fip.id}`)).body['floatingip']).toMatchObject({ port_id: null, router_id: null, status: 'DOWN' });
  });

  it('refuses internal networks, taken addresses, a non-admin asking for an address, and an exhausted pool', async () => {
    const internal = await h.post('/v2.0/floatingips', { floatingip: { floating_network_id: net } });
    expect(neutronError(internal).message).toBe(`Bad floatingip request: Network ${net} is not a valid external network.`);
    const a = await h.post('/v2.0/floatingips', { floatingip: { floating_network_id: ext, floating_ip_address: '172.24.4.15' } });
    expect(a.status).toBe(201);
    const taken = await h.post('/v2.0/floatingips', { floatingip: { floating_network_id: ext, floating_ip_address: '172.24.4.15' } });
    expect(neutronError(taken).type).toBe('IpAddressInUse');
    const member = await h.post('/v2.0/floatingips', { floatingip: { floating_network_id: ext, floating_ip_address: '172.24.4.16' } }, { 'x-project-id': 'demo', 'x-roles': 'member' });
    expect(member.status).toBe(403);
    let last;
    for (let i = 0; i < 20; i++) {
      last = await h.post('/v2.0/floatingips', { floatingip: { floating_network_id: ext } });
      if (last.status !== 201) break;
    }
    expect(last!.status).toBe(409);
    expect(neutronError(last!).type).toBe('IpAddressGenerationFailure');
  });
});
