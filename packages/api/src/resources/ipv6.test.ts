import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Harness, neutronError } from '../../test/harness.js';

let h: Harness;
let net: string;

beforeEach(async () => {
  h = await Harness.start({ network: { macPrefix: 'fa:16:3e' } });
  net = String((await h.network())['id']);
});
afterEach(async () => {
  await h.close();
});

type Port = { id: string; mac_address: string; fixed_ips: { subnet_id: string; ip_address: string }[] };
const v6 = (attrs: Record<string, unknown>) => ({ subnet: { network_id: net, ip_version: 6, cidr: 'fd00:1::/64', ...attrs } });

describe('IPv6 subnet modes (Neutron rules)', () => {
  it('accepts the combinations Neutron accepts', async () => {
    const ok: Record<string, unknown>[] = [
      { ipv6_ra_mode: 'slaac', ipv6_address_mode: 'slaac' },
      { ipv6_ra_mode: 'dhcpv6-stateful', ipv6_address_mode: 'dhcpv6-stateful' },
      { ipv6_ra_mode: 'dhcpv6-stateless', ipv6_address_mode: 'dhcpv6-stateless' },
      // An external router sends the RAs: only the address mode is set.
      { ipv6_address_mode: 'slaac' },
      { ipv6_address_mode: 'dhcpv6-stateful' },
      { ipv6_ra_mode: 'slaac' },
      {},
    ];
    for (const [i, attrs] of ok.entries()) {
      const r = await h.post('/v2.0/subnets', v6({ ...attrs, cidr: `fd00:${i + 1}::/64` }));
      expect(r.status, JSON.stringify(attrs)).toBe(201);
      expect(r.body['subnet']).toMatchObject({ ipv6_ra_mode: attrs['ipv6_ra_mode'] ?? null, ipv6_address_mode: attrs['ipv6_address_mode'] ?? null });
    }
  });

  it('refuses what Neutron refuses, with its messages, and writes nothing', async () => {
    const before = h.revision;
    const cases: [Record<string, unknown>, string][] = [
      [
        { ipv6_ra_mode: 'slaac', ipv6_address_mode: 'dhcpv6-stateful' },
        "Invalid input for operation: ipv6_ra_mode set to 'slaac' with ipv6_address_mode set to 'dhcpv6-stateful' is not valid. If both attributes are set, they must be the same value.",
      ],
      [{ ipv6_ra_mode: 'slaac', ipv6_address_mode: 'slaac', enable_dhcp: false }, 'Invalid input for operation: ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False'],
      [
        { ipv6_address_mode: 'slaac', cidr: 'fd00:1::/80' },
        'Invalid input for operation: Invalid CIDR fd00:1::/80 for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64',
      ],
      [
        { ipv6_ra_mode: 'dhcpv6-stateless', cidr: 'fd00:1::/56' },
        'Invalid input for operation: Invalid CIDR fd00:1::/56 for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64',
      ],
    ];
    for (const [attrs, message] of cases) {
      const r = await h.post('/v2.0/subnets', v6(attrs));
      expect(r.status, JSON.stringify(attrs)).toBe(400);
      expect(neutronError(r)).toMatchObject({ type: 'InvalidInput', message });
    }
    const v4 = await h.post('/v2.0/subnets', { subnet: { network_id: net, ip_version: 4, cidr: '10.0.0.0/24', ipv6_ra_mode: 'slaac' } });
    expect(neutronError(v4).message).toBe('Invalid input for operation: ipv6_ra_mode is not valid when ip_version is 4.');
    const badMode = await h.post('/v2.0/subnets', v6({ ipv6_ra_mode: 'magic' }));
    expect(badMode.status).toBe(400);
    expect(h.revision).toBe(before);
  });

  it('refuses turning DHCP off on a subnet with IPv6 modes', async () => {
    const s = await h.subnet(net, 'fd00:1::/64', { ip_version: 6, ipv6_ra_mode: 'dhcpv6-stateful', ipv6_address_mode: 'dhcpv6-stateful' });
    const r = await h.put(`/v2.0/subnets/${String(s['id'])}`, { subnet: { enable_dhcp: false } });
    expect(r.status).toBe(400);
    expect(neutronError(r).message).toBe('Invalid input for operation: Cannot disable enable_dhcp with ipv6 attributes set');
  });
});

describe('EUI-64 addresses', () => {
  let v4: string;
  let slaac: string;
  beforeEach(async () => {
    v4 = String((await h.subnet(net, '10.0.0.0/24'))['id']);
    slaac = String((await h.subnet(net, 'fd00:1::/64', { ip_version: 6, ipv6_ra_mode: 'slaac', ipv6_address_mode: 'slaac' }))['id']);
  });

  it('gives a port the EUI-64 address on SLAAC and DHCPv6-stateless subnets, also when fixed_ips names only the IPv4 subnet', async () => {
    const stateless = String((await h.subnet(net, 'fd00:2::/64', { ip_version: 6, ipv6_ra_mode: 'dhcpv6-stateless', ipv6_address_mode: 'dhcpv6-stateless' }))['id']);
    const p = (await h.port(net, { mac_address: 'fa:16:3e:11:22:33', fixed_ips: [{ subnet_id: v4 }] })) as unknown as Port;
    expect(p.fixed_ips).toEqual([
      { subnet_id: v4, ip_address: expect.stringMatching(/^10\.0\.0\.\d+$/) as unknown },
      { subnet_id: slaac, ip_address: 'fd00:1::f816:3eff:fe11:2233' },
      { subnet_id: stateless, ip_address: 'fd00:2::f816:3eff:fe11:2233' },
    ]);
    const onlySlaac = (await h.port(net, { mac_address: 'fa:16:3e:11:22:44', fixed_ips: [{ subnet_id: slaac }] })) as unknown as Port;
    expect(onlySlaac.fixed_ips).toEqual([{ subnet_id: slaac, ip_address: 'fd00:1::f816:3eff:fe11:2244' }, { subnet_id: expect.any(String) as unknown, ip_address: 'fd00:2::f816:3eff:fe11:2244' }]);
  });

  it('refuses a fixed IP on a SLAAC subnet with Neutron error, but lets a router interface take the gateway', async () => {
    const before = h.revision;
    const r = await h.post('/v2.0/ports', { port: { network_id: net, fixed_ips: [{ ip_address: 'fd00:1::99' }] } });
    expect(r.status).toBe(400);
    expect(neutronError(r)).toMatchObject({
      type: 'AllocationOnAutoAddressSubnet',
      message: `IPv6 address fd00:1::99 cannot be directly assigned to a port on subnet ${slaac} as the subnet is configured for automatic addresses`,
    });
    expect(h.revision).toBe(before);
    const router = (await h.create('routers', 'router', { name: 'r1' }))['id'];
    const itf = await h.put(`/v2.0/routers/${String(router)}/add_router_interface`, { subnet_id: slaac });
    expect(itf.status).toBe(200);
    const rp = (await h.get(`/v2.0/ports/${String(itf.body['port_id'])}`)).body['port'] as unknown as Port;
    expect(rp.fixed_ips).toEqual([{ subnet_id: slaac, ip_address: 'fd00:1::1' }]);
  });

  it('recomputes the EUI-64 address when the MAC changes and drops it when an update leaves the subnet out', async () => {
    const p = (await h.port(net, { mac_address: 'fa:16:3e:11:22:33' })) as unknown as Port;
    const v4ip = p.fixed_ips.find((f) => f.subnet_id === v4)!.ip_address;
    const moved = await h.put(`/v2.0/ports/${p.id}`, { port: { mac_address: 'fa:16:3e:aa:bb:cc' } });
    expect(moved.status).toBe(200);
    expect((moved.body['port'] as unknown as Port).fixed_ips).toEqual([
      { subnet_id: v4, ip_address: v4ip },
      { subnet_id: slaac, ip_address: 'fd00:1::f816:3eff:feaa:bbcc' },
    ]);
    // The old address is free again: a port with the old MAC gets it.
    const other = (await h.port(net, { mac_address: 'fa:16:3e:11:22:33' })) as unknown as Port;
    expect(other.fixed_ips).toContainEqual({ subnet_id: slaac, ip_address: 'fd00:1::f816:3eff:fe11:2233' });
    const kept = await h.put(`/v2.0/ports/${p.id}`, { port: { fixed_ips: [{ ip_address: v4ip }, { ip_address: 'fd00:1::f816:3eff:feaa:bbcc' }] } });
    expect((kept.body['port'] as unknown as Port).fixed_ips).toHaveLength(2);
    const dropped = await h.put(`/v2.0/ports/${p.id}`, { port: { fixed_ips: [{ ip_address: v4ip }] } });
    expect((dropped.body['port'] as unknown as Port).fixed_ips).toEqual([{ subnet_id: v4, ip_address: v4ip }]);
  });

  it('gives ports already on the network their address on a new SLAAC subnet, not router interfaces', async () => {
    const p = (await h.port(net, { mac_address: 'fa:16:3e:00:00:07' })) as unknown as Port;
    const router = (await h.create('routers', 'router', { name: 'r1' }))['id'];
    await h.put(`/v2.0/routers/${String(router)}/add_router_interface`, { subnet_id: v4 });
    const later = String((await h.subnet(net, 'fd00:9::/64', { ip_version: 6, ipv6_address_mode: 'slaac' }))['id']);
    const after = (await h.get(`/v2.0/ports/${p.id}`)).body['port'] as unknown as Port;
    expect(after.fixed_ips).toContainEqual({ subnet_id: later, ip_address: 'fd00:9::f816:3eff:fe00:7' });
    const itfs = (await h.get(`/v2.0/ports?network_id=${net}&device_owner=network:router_interface`)).body['ports'] as unknown as Port[];
    expect(itfs[0]!.fixed_ips.map((f) => f.subnet_id)).toEqual([v4]);
  });
});
