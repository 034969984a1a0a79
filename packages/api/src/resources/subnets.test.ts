import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Harness, neutronError } from '../../test/harness.js';

let h: Harness;
let net: string;

beforeEach(async () => {
  h = await Harness.start();
  net = String((await h.network())['id']);
});
afterEach(async () => {
  await h.close();
});

const dhcpPorts = async (networkId: string) => (await h.get(`/v2.0/ports?network_id=${networkId}&device_owner=network:dhcp`)).body['ports'] as { fixed_ips: { subnet_id: string; ip_address: string }[] }[];

describe('subnets', () => {
  it('defaults the gateway to the first address and the pool to the rest, and lists the subnet on its network', async () => {
    const s = await h.subnet(net, '10.0.0.0/24', { name: 's1' });
    expect(s).toMatchObject({
      name: 's1',
      network_id: net,
      ip_version: 4,
      cidr: '10.0.0.0/24',
      gateway_ip: '10.0.0.1',
      enable_dhcp: true,
      allocation_pools: [{ start: '10.0.0.2', end: '10.0.0.254' }],
      dns_nameservers: [],
      host_routes: [],
      ipv6_address_mode: null,
      ipv6_ra_mode: null,
      subnetpool_id: null,
      revision_number: 1,
    });
    expect((await h.get(`/v2.0/networks/${net}`)).body['network']).toMatchObject({ subnets: [s['id']] });
  });

  it('splits the default pool around a gateway in the middle and has none with gateway_ip null', async () => {
    const mid = await h.subnet(net, '10.0.0.0/29', { gateway_ip: '10.0.0.3' });
    expect(mid['allocation_pools']).toEqual([
      { start: '10.0.0.1', end: '10.0.0.2' },
      { start: '10.0.0.4', end: '10.0.0.6' },
    ]);
    const other = String((await h.network())['id']);
    const none = await h.subnet(other, '10.9.0.0/30', { gateway_ip: null, enable_dhcp: false });
    expect(none).toMatchObject({ gateway_ip: null, allocation_pools: [{ start: '10.9.0.1', end: '10.9.0.2' }] });
    const v6 = await h.subnet(other, 'fd00::/64', { enable_dhcp: false });
    expect(v6).toMatchObject({ gateway_ip: 'fd00::1', allocation_pools: [{ start: 'fd00::2', end: 'fd00::ffff:ffff:ffff:ffff' }] });
  });

  it('creates one DHCP port per network with an address on each DHCP subnet, and removes it with the last one', async () => {
    const a = await h.subnet(net, '10.0.0.0/24');
    let dhcp = await dhcpPorts(net);
    expect(dhcp).toHaveLength(1);
    expect(dhcp[0]!.fixed_ips).toEqual([{ subnet_id: a['id'], ip_address: '10.0.0.2' }]);
    const b = await h.subnet(net, '10.0.1.0/24');
    dhcp = await dhcpPorts(net);
    expect(dhcp).toHaveLength(1);
    expect(dhcp[0]!.fixed_ips.map((f) => f.ip_address)).toEqual(['10.0.0.2', '10.0.1.2']);
    const off = await h.put(`/v2.0/subnets/${String(b['id'])}`, { subnet: { enable_dhcp: false } });
    expect(off.status).toBe(200);
    expect((await dhcpPorts(net))[0]!.fixed_ips.map((f) => f.ip_address)).toEqual(['10.0.0.2']);
    expect((await h.delete(`/v2.0/subnets/${String(a['id'])}`)).status).toBe(204);
    expect(await dhcpPorts(net)).toHaveLength(0);
    const noDhcp = await h.subnet(net, '10.0.2.0/24', { enable_dhcp: false });
    expect(noDhcp['enable_dhcp']).toBe(false);
    expect(await dhcpPorts(net)).toHaveLength(0);
  });

  it('refuses bad CIDRs, overlaps and bad pools with Neutron errors naming the field, writing nothing', async () => {
    await h.subnet(net, '10.0.0.0/24');
    const before = h.revision;
    const cases: [Record<string, unknown>, number, string][] = [
      [{ cidr: '10.0.0.300/24' }, 400, "Invalid input for cidr. Reason: '10.0.0.300/24' is not a valid IP subnet."],
      [{ cidr: '10.1.0.5/24' }, 400, "Invalid input for cidr. Reason: '10.1.0.5/24' isn't a recommended CIDR, '10.1.0.0/24' should be specified instead."],
      [{ cidr: '10.0.0.128/25' }, 400, `Invalid input for operation: Requested subnet with cidr: 10.0.0.128/25 for network: ${net} overlaps with another subnet.`],
      [{ cidr: 'fd00::/64', ip_version: 4 }, 400, 'Invalid input for operation: cidr fd00::/64 is an IPv6 network but ip_version is 4.'],
      [{ cidr: '10.2.0.0/24', gateway_ip: '10.3.0.1' }, 400, 'Invalid input for operation: Gateway IP 10.3.0.1 is outside subnet 10.2.0.0/24.'],
      [{ cidr: '10.2.0.0/24', allocation_pools: [{ start: '10.2.0.10', end: '10.2.1.5' }] }, 400, 'The allocation pool 10.2.0.10-10.2.1.5 spans beyond the subnet cidr 10.2.0.0/24.'],
      [{ cidr: '10.2.0.0/24', allocation_pools: [{ start: '10.2.0.1', end: '10.2.0.5' }] }, 409, 'Gateway ip 10.2.0.1 conflicts with allocation pool 10.2.0.1-10.2.0.5'],
      [
        {
          cidr: '10.2.0.0/24',
          allocation_pools: [
            { start: '10.2.0.10', end: '10.2.0.20' },
            { start: '10.2.0.15', end: '10.2.0.30' },
          ],
        },
        400,
        'Found overlapping allocation pools: 10.2.0.10-10.2.0.20 and 10.2.0.15-10.2.0.30 for subnet 10.2.0.0/24.',
      ],
      [{ cidr: '10.2.0.0/24', dns_nameservers: ['8.8.8.8', '8.8.8.8'] }, 400, "Invalid input for dns_nameservers[1]. Reason: Duplicate nameserver '8.8.8.8'."],
      [{ cidr: '10.2.0.0/24', host_routes: [{ destination: '0.0.0.0/0', nexthop: 'x' }] }, 400, "Invalid input for host_routes[0].nexthop. Reason: 'x' is not a valid IP address."],
      [{ cidr: '10.2.0.0/24', ipv6_address_mode: 'slaac' }, 400, 'Invalid input for operation: ipv6_address_mode is not valid when ip_version is 4.'],
      [{ cidr: '10.2.0.0/31' }, 400, 'Invalid input for operation: the prefix length of 10.2.0.0/31 must be at most 30 to leave room for hosts.'],
    ];
    for (const [attrs, status, message] of cases) {
      const r = await h.post('/v2.0/subnets', { subnet: { network_id: net, ip_version: 4, ...attrs } });
      expect(r.status, JSON.stringify(attrs)).toBe(status);
      expect(neutronError(r).message).toBe(message);
    }
    const missing = await h.post('/v2.0/subnets', { subnet: { network_id: net, ip_version: 4 } });
    expect(neutronError(missing).message).toBe("Failed to parse request. Required attribute 'cidr' not specified");
    const unknownNet = await h.post('/v2.0/subnets', { subnet: { network_id: 'f6a2a0c3-6a6e-4a53-9d43-4b8a4d7f0e11', ip_version: 4, cidr: '10.5.0.0/24' } });
    expect(unknownNet.status).toBe(404);
    expect(neutronError(unknownNet).type).toBe('NetworkNotFound');
    expect(h.revision).toBe(before);
  });

  it('updates DNS servers, host routes, pools and the gateway, and refuses read-only attributes', async () => {
    const s = await h.subnet(net, '10.0.0.0/24');
    const id = String(s['id']);
    const up = await h.put(`/v2.0/subnets/${id}`, {
      subnet: { dns_nameservers: ['10.0.0.53'], host_routes: [{ destination: '192.168.0.0/16', nexthop: '10.0.0.254' }], allocation_pools: [{ start: '10.0.0.100', end: '10.0.0.200' }], gateway_ip: '10.0.0.254' },
    });
    expect(up.status).toBe(200);
    expect(up.body['subnet']).toMatchObject({ dns_nameservers: ['10.0.0.53'], gateway_ip: '10.0.0.254', allocation_pools: [{ start: '10.0.0.100', end: '10.0.0.200' }] });
    const ro = await h.put(`/v2.0/subnets/${id}`, { subnet: { cidr: '10.0.0.0/16' } });
    expect(ro.status).toBe(400);
    expect(neutronError(ro).message).toBe("Unrecognized attribute(s) 'cidr'");
  });

  it('refuses to delete a subnet that ports use', async () => {
    const s = await h.subnet(net, '10.0.0.0/24');
    const p = await h.port(net);
    const r = await h.delete(`/v2.0/subnets/${String(s['id'])}`);
    expect(r.status).toBe(409);
    expect(neutronError(r)).toMatchObject({ type: 'SubnetInUse' });
    await h.delete(`/v2.0/ports/${String(p['id'])}`);
    expect((await h.delete(`/v2.0/subnets/${String(s['id'])}`)).status).toBe(204);
  });

  it('lets other projects see subnets of shared networks but not of private ones', async () => {
    const shared = String((await h.network({ shared: true }))['id']);
    await h.subnet(shared, '10.0.0.0/24');
    await h.subnet(net, '10.1.0.0/24');
    const seen = (await h.get('/v2.0/subnets', { 'x-project-id': 'demo', 'x-roles': 'member' })).body['subnets'] as { cidr: string }[];
    expect(seen.map((s) => s.cidr)).toEqual(['10.0.0.0/24']);
    const create = await h.post('/v2.0/subnets', { subnet: { network_id: shared, ip_version: 4, cidr: '10.7.0.0/24' } }, { 'x-project-id': 'demo', 'x-roles': 'member' });
    expect(create.status).toBe(403);
  });
});
