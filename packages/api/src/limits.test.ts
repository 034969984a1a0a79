import { afterEach, describe, expect, it } from 'vitest';
import { Harness, neutronError } from '../test/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const tenant = { 'x-project-id': 'tenant' };

/** n distinct addresses 10.1.x.y from 10.1.0.10 on. */
function addresses(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `10.1.${Math.floor((i + 10) / 256)}.${(i + 10) % 256}`);
}

function refused(r: { status: number; body: Record<string, unknown> }, type: string, field: string, limit: number): void {
  expect(r.status, JSON.stringify(r.body)).toBe(400);
  const e = neutronError(r as never);
  expect(e.type).toBe(type);
  expect(e.message).toContain(field);
  expect(e.message).toContain(String(limit));
}

describe("Neutron's limits, with its defaults", () => {
  it('refuses more fixed IPs, address pairs, DNS servers, host routes, pools or bulk items than configured, writing nothing', async () => {
    h = await Harness.start();
    const net = String((await h.network({}, tenant))['id']);
    const sub = String((await h.subnet(net, '10.1.0.0/16', {}, tenant))['id']);
    const port = String((await h.port(net, {}, tenant))['id']);
    const before = h.revision;

    const six = addresses(6).map((ip_address) => ({ ip_address }));
    refused(await h.post('/v2.0/ports', { port: { network_id: net, fixed_ips: six } }, tenant), 'InvalidInput', 'fixed_ips', 5);
    refused(await h.put(`/v2.0/ports/${port}`, { port: { fixed_ips: six.map(() => ({ subnet_id: sub })) } }, tenant), 'InvalidInput', 'fixed_ips', 5);

    const pairs = addresses(11).map((ip_address) => ({ ip_address }));
    refused(await h.post('/v2.0/ports', { port: { network_id: net, allowed_address_pairs: pairs } }, tenant), 'AllowedAddressPairExhausted', 'allowed_address_pairs', 10);
    refused(await h.put(`/v2.0/ports/${port}`, { port: { allowed_address_pairs: pairs } }, tenant), 'AllowedAddressPairExhausted', 'allowed_address_pairs', 10);

    const dns = ['1.1.1.1', '1.0.0.1', '8.8.8.8', '8.8.4.4', '9.9.9.9', '149.112.112.112'];
    refused(await h.post('/v2.0/subnets', { subnet: { network_id: net, ip_version: 4, cidr: '10.2.0.0/24', dns_nameservers: dns } }, tenant), 'DNSNameServersExhausted', 'dns_nameservers', 5);
    refused(await h.put(`/v2.0/subnets/${sub}`, { subnet: { dns_nameservers: dns } }, tenant), 'DNSNameServersExhausted', 'dns_nameservers', 5);

    const routes = Array.from({ length: 21 }, (_, i) => ({ destination: `172.16.${i}.0/24`, nexthop: '10.1.0.1' }));
    refused(await h.post('/v2.0/subnets', { subnet: { network_id: net, ip_version: 4, cidr: '10.2.0.0/24', host_routes: routes } }, tenant), 'HostRoutesExhausted', 'host_routes', 20);
    refused(await h.put(`/v2.0/subnets/${sub}`, { subnet: { host_routes: routes } }, tenant), 'HostRoutesExhausted', 'host_routes', 20);

    const pools = Array.from({ length: 101 }, (_, i) => ({ start: `10.2.${i}.1`, end: `10.2.${i}.1` }));
    refused(await h.post('/v2.0/subnets', { subnet: { network_id: net, ip_version: 4, cidr: '10.2.0.0/16', allocation_pools: pools } }, tenant), 'InvalidInput', 'allocation_pools', 100);
    refused(await h.put(`/v2.0/subnets/${sub}`, { subnet: { allocation_pools: pools.map((_, i) => ({ start: `10.1.${i}.1`, end: `10.1.${i}.1` })) } }, tenant), 'InvalidInput', 'allocation_pools', 100);

    refused(await h.post('/v2.0/networks', { networks: Array.from({ length: 101 }, (_, i) => ({ name: `n${i}` })) }, tenant), 'HTTPBadRequest', 'networks', 100);
    refused(await h.post('/v2.0/ports', { ports: Array.from({ length: 101 }, () => ({ network_id: net })) }, tenant), 'HTTPBadRequest', 'ports', 100);
    expect(h.revision).toBe(before);

    // At the limits, everything is accepted.
    const five = await h.post('/v2.0/ports', { port: { network_id: net, fixed_ips: addresses(5).map((ip_address) => ({ ip_address })), allowed_address_pairs: pairs.slice(0, 10) } }, tenant);
    expect(five.status).toBe(201);
    expect((await h.put(`/v2.0/subnets/${sub}`, { subnet: { dns_nameservers: dns.slice(0, 5), host_routes: routes.slice(0, 20) } }, tenant)).status).toBe(200);
  });

  it('takes its limits from the config', async () => {
    h = await Harness.start({ limits: { maxFixedIpsPerPort: 2, maxBulkCreate: 3 } });
    const net = String((await h.network())['id']);
    await h.subnet(net, '10.1.0.0/24');
    refused(await h.post('/v2.0/ports', { port: { network_id: net, fixed_ips: addresses(3).map((ip_address) => ({ ip_address })) } }), 'InvalidInput', 'fixed_ips', 2);
    refused(await h.post('/v2.0/networks', { networks: [{}, {}, {}, {}] }), 'HTTPBadRequest', 'networks', 3);
    expect((await h.post('/v2.0/networks', { networks: [{}, {}, {}] })).status).toBe(201);
  });
});

describe('big requests under raised limits', () => {
  it('finds an overlap among 20,000 single-address pools, accepts 2,000 pools and allocates 1,999 fixed IPs on one port', async () => {
    h = await Harness.start({ limits: { maxAllocationPools: 20_001, maxFixedIpsPerPort: 2_000 }, bodyLimit: 8 * 1024 * 1024 });
    const net = String((await h.network())['id']);
    const pool = (i: number) => ({ start: `10.3.${Math.floor(i / 250)}.${(i % 250) + 2}`, end: `10.3.${Math.floor(i / 250)}.${(i % 250) + 2}` });
    // 20,000 pools in reverse order, one overlap hidden among them: found (sorted, not pairwise) and named.
    const many = Array.from({ length: 20_000 }, (_, i) => pool(19_999 - i));
    many.splice(12_345, 0, { start: '10.3.40.100', end: '10.3.40.120' });
    const before = h.revision;
    const overlap = await h.post('/v2.0/subnets', { subnet: { network_id: net, ip_version: 4, cidr: '10.3.0.0/16', allocation_pools: many } });
    expect(overlap.status).toBe(400);
    expect(neutronError(overlap)).toMatchObject({ type: 'OverlappingAllocationPools' });
    expect(neutronError(overlap).message).toContain('10.3.40.100-10.3.40.120');
    expect(h.revision).toBe(before);
    // 2,000 pools accepted (the NB model's own pool check is pairwise: 20,000 would take it half a minute).
    const pools = Array.from({ length: 2_000 }, (_, i) => pool(i));
    const sub = await h.post('/v2.0/subnets', { subnet: { network_id: net, ip_version: 4, cidr: '10.3.0.0/16', allocation_pools: pools } });
    expect(sub.status).toBe(201);
    expect((sub.body['subnet'] as { allocation_pools: unknown[] }).allocation_pools).toHaveLength(2_000);
    const subnetId = String((sub.body['subnet'] as { id: string }).id);
    // The DHCP port took the first pool address, so 1,999 are left: one fixed IP too many is refused.
    const tooMany = await h.post('/v2.0/ports', { port: { network_id: net, fixed_ips: Array.from({ length: 2_000 }, () => ({ subnet_id: subnetId })) } });
    expect(tooMany.status).toBe(409);
    expect(neutronError(tooMany).type).toBe('IpAddressGenerationFailure');
    const port = await h.post('/v2.0/ports', { port: { network_id: net, fixed_ips: Array.from({ length: 1_999 }, () => ({ subnet_id: subnetId })) } });
    expect(port.status).toBe(201);
    const ips = (port.body['port'] as { fixed_ips: { ip_address: string }[] }).fixed_ips.map((f) => f.ip_address);
    expect(new Set(ips).size).toBe(1_999);
    expect(ips[0]).toBe('10.3.0.3');
    expect(ips[1_998]).toBe('10.3.7.251');
  });
});
