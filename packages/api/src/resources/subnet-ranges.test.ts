import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Harness, neutronError } from '../../test/harness.js';

let h: Harness;
let net: string;

beforeEach(async () => {
  h = await Harness.start();
  net = String((await h.network({}, { 'x-project-id': 'tenant' }))['id']);
});
afterEach(async () => {
  await h.close();
});

const tenant = { 'x-project-id': 'tenant' };

function subnet(cidr: string, extra: Record<string, unknown> = {}) {
  return h.post('/v2.0/subnets', { subnet: { network_id: net, cidr, ip_version: cidr.includes(':') ? 6 : 4, ...extra } }, tenant);
}

describe("subnet ranges, as Neutron's checks", () => {
  it('refuses /0 always, and multicast, loopback and link-local ranges with DHCP on', async () => {
    const before = h.revision;
    for (const cidr of ['0.0.0.0/0', '::/0']) {
      for (const enable_dhcp of [true, false]) {
        const r = await subnet(cidr, { enable_dhcp });
        expect(r.status, cidr).toBe(400);
        expect(neutronError(r)).toEqual({ type: 'InvalidInput', message: 'Invalid input for operation: 0 is not allowed as CIDR prefix length', detail: '' });
      }
    }
    const cases: [string, string][] = [
      ['224.0.0.0/24', 'Multicast'],
      ['239.1.0.0/16', 'Multicast'],
      ['ff05::/64', 'Multicast'],
      ['127.0.0.0/24', 'Loopback'],
      ['169.254.0.0/24', 'Link-local'],
      ['fe80::/64', 'Link-local'],
    ];
    for (const [cidr, kind] of cases) {
      const r = await subnet(cidr);
      expect(r.status, cidr).toBe(400);
      expect(neutronError(r)).toEqual({ type: 'InvalidInput', message: `Invalid input for operation: ${kind} IP subnet is not supported if enable_dhcp is True.`, detail: '' });
    }
    expect(h.revision).toBe(before);
    // Without DHCP they are allowed (as Neutron), but DHCP cannot be turned on later.
    const ll = await subnet('169.254.0.0/24', { enable_dhcp: false });
    expect(ll.status).toBe(201);
    const id = String((ll.body['subnet'] as { id: string }).id);
    const on = await h.put(`/v2.0/subnets/${id}`, { subnet: { enable_dhcp: true } }, tenant);
    expect(on.status).toBe(400);
    expect(neutronError(on).message).toBe('Invalid input for operation: Link-local IP subnet is not supported if enable_dhcp is True.');
  });

  it('refuses a DNS server of the other IP version', async () => {
    const before = h.revision;
    const v4 = await subnet('10.4.0.0/24', { dns_nameservers: ['8.8.8.8', '2001:4860:4860::8888'] });
    expect(v4.status).toBe(400);
    expect(neutronError(v4)).toEqual({ type: 'InvalidInput', message: "Invalid input for operation: dns_nameserver '2001:4860:4860::8888' does not match the ip_version '4'", detail: '' });
    const v6 = await subnet('2001:db8:4::/64', { dns_nameservers: ['8.8.8.8'] });
    expect(v6.status).toBe(400);
    expect(neutronError(v6).message).toBe("Invalid input for operation: dns_nameserver '8.8.8.8' does not match the ip_version '6'");
    expect(h.revision).toBe(before);
    const ok = await subnet('10.4.0.0/24', { dns_nameservers: ['8.8.8.8'] });
    const id = String((ok.body['subnet'] as { id: string }).id);
    const upd = await h.put(`/v2.0/subnets/${id}`, { subnet: { dns_nameservers: ['::1'] } }, tenant);
    expect(upd.status).toBe(400);
  });
});
