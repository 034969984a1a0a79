import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Harness, neutronError } from '../../test/harness.js';

// Neutron's ownership rules on a shared network: the network owner ("owner") and a
// second project using it ("tenant"), both plain members; the header-less caller is admin.
const owner = { 'x-project-id': 'owner' };
const tenant = { 'x-project-id': 'tenant' };

let h: Harness;
let net: string;
let sub: string;

beforeEach(async () => {
  h = await Harness.start();
  net = String((await h.network({ name: 'shared', shared: true, project_id: 'owner' }))['id']);
  sub = String((await h.subnet(net, '10.9.0.0/24', {}, owner))['id']);
});
afterEach(async () => {
  await h.close();
});

function denied(r: { status: number; body: Record<string, unknown> }, rule: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(403);
  expect(neutronError(r as never)).toEqual({ type: 'PolicyNotAuthorized', message: `(rule:${rule}) is disallowed by policy`, detail: '' });
}

describe("another project's shared subnet on one's own router", () => {
  it('is refused unless the caller is admin, as Neutron', async () => {
    const router = String((await h.router({}, tenant))['id']);
    const before = h.revision;
    const r = await h.put(`/v2.0/routers/${router}/add_router_interface`, { subnet_id: sub }, tenant);
    expect(r.status).toBe(400);
    expect(neutronError(r)).toMatchObject({ type: 'BadRequest', message: `Bad router request: Cannot add interface to router because subnet ${sub} is not owned by project making the request.` });
    expect(h.revision).toBe(before);
    // The gateway address is still free for its owner.
    const mine = String((await h.router({}, owner))['id']);
    expect((await h.put(`/v2.0/routers/${mine}/add_router_interface`, { subnet_id: sub }, owner)).status).toBe(200);
    // An admin may attach it to the tenant's router (another subnet's gateway here).
    const sub2 = String((await h.subnet(net, '10.9.1.0/24', {}, owner))['id']);
    expect((await h.put(`/v2.0/routers/${router}/add_router_interface`, { subnet_id: sub2 })).status).toBe(200);
  });
});

describe("the network owner and another project's port on its shared network", () => {
  it('may see and delete it, but not update it nor add it to its router', async () => {
    const port = String((await h.port(net, { name: 'vm' }, tenant))['id']);
    expect((await h.get(`/v2.0/ports/${port}`, owner)).status).toBe(200);
    const before = h.revision;
    denied(await h.put(`/v2.0/ports/${port}`, { port: { name: 'taken' } }, owner), 'update_port');
    denied(await h.put(`/v2.0/ports/${port}`, { port: { port_security_enabled: false } }, owner), 'update_port');
    const router = String((await h.router({}, owner))['id']);
    const add = await h.put(`/v2.0/routers/${router}/add_router_interface`, { port_id: port }, owner);
    expect(add.status).toBe(400);
    expect(neutronError(add)).toMatchObject({ type: 'BadRequest', message: `Bad router request: Cannot add interface to router because port ${port} is not owned by project making the request.` });
    expect(h.revision).toBe(before - 0 + 1); // only the router was created
    // The port's owner and the admin may update it.
    expect((await h.put(`/v2.0/ports/${port}`, { port: { name: 'renamed' } }, tenant)).status).toBe(200);
    expect((await h.put(`/v2.0/ports/${port}`, { port: { name: 'by-admin' } })).status).toBe(200);
    expect((await h.delete(`/v2.0/ports/${port}`, owner)).status).toBe(204);
  });
});

describe('a non-owner of a shared network', () => {
  it('cannot create ports without port security, with address pairs or with a network:* owner', async () => {
    const before = h.revision;
    denied(await h.post('/v2.0/ports', { port: { network_id: net, port_security_enabled: false } }, tenant), 'create_port:port_security_enabled');
    denied(await h.post('/v2.0/ports', { port: { network_id: net, allowed_address_pairs: [{ ip_address: '0.0.0.0/0' }] } }, tenant), 'create_port:allowed_address_pairs');
    denied(await h.post('/v2.0/ports', { port: { network_id: net, device_owner: 'network:dhcp' } }, tenant), 'create_port:device_owner');
    denied(await h.post('/v2.0/ports', { port: { network_id: net, device_owner: 'network:router_interface_distributed' } }, tenant), 'create_port:device_owner');
    expect(h.revision).toBe(before);
    // The network owner may do all of it.
    const own = await h.post('/v2.0/ports', { port: { network_id: net, port_security_enabled: false } }, owner);
    expect(own.status).toBe(201);
    const pairs = await h.post('/v2.0/ports', { port: { network_id: net, allowed_address_pairs: [{ ip_address: '10.9.0.200' }] } }, owner);
    expect(pairs.status).toBe(201);
  });

  it('cannot switch its own port to no port security, address pairs, a network:* owner or other addresses', async () => {
    const port = String((await h.port(net, { name: 'vm', device_owner: 'compute:nova' }, tenant))['id']);
    const before = h.revision;
    denied(await h.put(`/v2.0/ports/${port}`, { port: { port_security_enabled: false, security_groups: [] } }, tenant), 'update_port:port_security_enabled');
    denied(await h.put(`/v2.0/ports/${port}`, { port: { allowed_address_pairs: [{ ip_address: '0.0.0.0/0' }] } }, tenant), 'update_port:allowed_address_pairs');
    denied(await h.put(`/v2.0/ports/${port}`, { port: { device_owner: 'network:dhcp' } }, tenant), 'update_port:device_owner');
    denied(await h.put(`/v2.0/ports/${port}`, { port: { fixed_ips: [{ subnet_id: sub }, { subnet_id: sub }] } }, tenant), 'update_port:fixed_ips');
    expect(h.revision).toBe(before);
    // A later subnet does not take the tenant's port for an extra DHCP port.
    await h.subnet(net, '10.9.2.0/24', {}, owner);
    expect((await h.get(`/v2.0/ports/${port}`, tenant)).status).toBe(200);
    // Its own harmless attributes stay its to change.
    const ok = await h.put(`/v2.0/ports/${port}`, { port: { name: 'web', device_owner: 'compute:az1', admin_state_up: false } }, tenant);
    expect(ok.status).toBe(200);
  });
});
