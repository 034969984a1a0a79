import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Harness, neutronError } from '../../test/harness.js';

let h: Harness;
let net: string;

beforeEach(async () => {
  h = await Harness.start({});
  net = String((await h.network())['id']);
  await h.subnet(net, '10.0.0.0/24');
});
afterEach(async () => {
  await h.close();
});

type Opt = { opt_name: string; opt_value: string; ip_version: number };
const optsOf = (body: Record<string, unknown>): Opt[] => (body['port'] as { extra_dhcp_opts: Opt[] }).extra_dhcp_opts;

describe('extra_dhcp_opts (Neutron extra_dhcp_opt extension)', () => {
  it('is advertised, stored and returned; ip_version defaults to 4 and may be sent as text (the openstack CLI does)', async () => {
    const ext = await h.get('/v2.0/extensions/extra_dhcp_opt');
    expect(ext.status).toBe(200);
    const p = await h.post('/v2.0/ports', {
      port: { network_id: net, extra_dhcp_opts: [{ opt_name: 'ntp-server', opt_value: '10.0.0.123' }, { opt_name: 'bootfile-name', opt_value: 'pxelinux.0', ip_version: '4' }] },
    });
    expect(p.status).toBe(201);
    expect(optsOf(p.body)).toEqual([
      { opt_name: 'ntp-server', opt_value: '10.0.0.123', ip_version: 4 },
      { opt_name: 'bootfile-name', opt_value: 'pxelinux.0', ip_version: 4 },
    ]);
    const id = (p.body['port'] as { id: string }).id;
    expect(optsOf((await h.get(`/v2.0/ports/${id}`)).body)).toHaveLength(2);
  });

  it('an update replaces an option by name, adds new ones and removes one whose value is null', async () => {
    const p = await h.post('/v2.0/ports', { port: { network_id: net, extra_dhcp_opts: [{ opt_name: 'ntp-server', opt_value: '10.0.0.123' }, { opt_name: 'mtu', opt_value: '1400' }] } });
    const id = (p.body['port'] as { id: string }).id;
    const u = await h.put(`/v2.0/ports/${id}`, { port: { extra_dhcp_opts: [{ opt_name: 'ntp-server', opt_value: '10.0.0.124' }, { opt_name: 'mtu', opt_value: null }, { opt_name: '42', opt_value: '10.0.0.1', ip_version: 4 }] } });
    expect(u.status).toBe(200);
    expect(optsOf(u.body)).toEqual([
      { opt_name: 'ntp-server', opt_value: '10.0.0.124', ip_version: 4 },
      { opt_name: '42', opt_value: '10.0.0.1', ip_version: 4 },
    ]);
    // Untouched when the update does not name them.
    expect(optsOf((await h.put(`/v2.0/ports/${id}`, { port: { name: 'x' } })).body)).toHaveLength(2);
  });

  it('refuses what the DHCP server could not send, naming the entry, and writes nothing', async () => {
    const before = (await h.get('/v2.0/ports')).body['ports'] as unknown[];
    const bad = await h.post('/v2.0/ports', { port: { network_id: net, extra_dhcp_opts: [{ opt_name: 'mtu', opt_value: '1400' }, { opt_name: 'mtu', opt_value: 'huge', ip_version: 4 }] } });
    expect(bad.status).toBe(400);
    expect(neutronError(bad).message).toMatch(/extra_dhcp_opts\[1\]\.opt_value.*needs an integer/);
    const unknown = await h.post('/v2.0/ports', { port: { network_id: net, extra_dhcp_opts: [{ opt_name: 'no-such-option', opt_value: 'x' }] } });
    expect(unknown.status).toBe(400);
    expect(neutronError(unknown).message).toMatch(/extra_dhcp_opts\[0\]\.opt_name.*unknown DHCP option 'no-such-option'/);
    const reserved = await h.post('/v2.0/ports', { port: { network_id: net, extra_dhcp_opts: [{ opt_name: '54', opt_value: '10.0.0.1' }] } });
    expect(neutronError(reserved).message).toMatch(/set by the DHCP server/);
    const version = await h.post('/v2.0/ports', { port: { network_id: net, extra_dhcp_opts: [{ opt_name: 'mtu', opt_value: '1', ip_version: 5 }] } });
    expect(neutronError(version).message).toMatch(/ip_version.*not 4 or 6/);
    expect((await h.get('/v2.0/ports')).body['ports']).toHaveLength(before.length);
  });
});
