import l2 from '@dragonflow/app-l2';
import l3 from '@dragonflow/app-l3-proactive';
import { OWNER_KINDS, PIPELINE_OWNER, allocatePipeline, makeCookie, ownerHash } from '@dragonflow/core/host';
import { MemoryDriver, NbApi } from '@dragonflow/nb';
import { afterEach, describe, expect, it } from 'vitest';
import { OwnerIndex, describeOwner } from './owners.js';

const pipeline = allocatePipeline([l2, l3].map((a) => ({ app: a.name, tables: a.tables ?? {}, registers: a.registers ?? [] })));

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

/** An NB with a network, two ports and a router whose keys collide (each table has its own key counter). */
async function nb() {
  const driver = MemoryDriver.create();
  const api = await NbApi.open(driver);
  close = async () => {
    await api.close();
    await driver.close();
  };
  const net = await api.create('logical_switch', { name: 'blue' });
  const sub = await api.create('subnet', { networkId: net.id, cidr: '10.0.0.0/24', ipVersion: 4 });
  const vm1 = await api.create('logical_port', { name: 'vm1', networkId: net.id, macAddress: 'fa:16:3e:00:00:01', fixedIps: [{ subnetId: sub.id, ipAddress: '10.0.0.5' }], deviceOwner: 'compute:nova' });
  const rif = await api.create('logical_port', { networkId: net.id, macAddress: 'fa:16:3e:00:00:fe', fixedIps: [{ subnetId: sub.id, ipAddress: '10.0.0.1' }], deviceOwner: 'network:router_interface' });
  const router = await api.create('logical_router', { name: 'r1' });
  return { driver, net, vm1, rif, router };
}

describe('OwnerIndex: a cookie back to its app and object', () => {
  it("names a security group rule's verdict flow (owner sg:<group>:rule:<rule>, hashed) by its group and what the rule says", async () => {
    const { driver } = await nb();
    const api = await NbApi.open(driver);
    const web = await api.create('security_group', {
      name: 'web',
      rules: [
        { id: '00000000-0000-4000-8000-0000000000a1', direction: 'ingress', protocol: 'tcp', portRangeMin: 8000, portRangeMax: 8080, remoteIpPrefix: '10.0.0.0/24' },
        { id: '00000000-0000-4000-8000-0000000000a2', direction: 'egress', ethertype: 'IPv6' },
      ],
    });
    await api.close();
    const index = await OwnerIndex.fromDriver(driver);
    const cookie = (rule: string) => makeCookie(pipeline.app('l2').slot, ownerHash(`sg:${web.id}:rule:${rule}`), OWNER_KINDS.hash);
    expect(describeOwner(index.owner(cookie('00000000-0000-4000-8000-0000000000a1'), pipeline))).toBe(`l2 · sg group web, rule ingress IPv4 tcp 8000-8080 from 10.0.0.0/24 (${web.id.slice(0, 8)})`);
    expect(describeOwner(index.owner(cookie('00000000-0000-4000-8000-0000000000a2'), pipeline))).toBe(`l2 · sg group web, rule egress IPv6 (${web.id.slice(0, 8)})`);
  });

  it('names a floating IP’s flows (the dnat app’s owner fip:<id>, hashed) by its address', async () => {
    const { driver } = await nb();
    const api = await NbApi.open(driver);
    const ext = await api.create('logical_switch', { name: 'public', external: true });
    await api.create('subnet', { networkId: ext.id, cidr: '172.24.4.0/24', ipVersion: 4 });
    const fip = await api.create('floating_ip', { floatingNetworkId: ext.id, floatingIpAddress: '172.24.4.50' });
    await api.close();
    const index = await OwnerIndex.fromDriver(driver);
    const owner = index.owner(makeCookie(pipeline.app('l2').slot, ownerHash(`fip:${fip.id}`), OWNER_KINDS.hash), pipeline);
    expect(owner.candidates).toEqual([{ owner: `fip:${fip.id}`, name: '172.24.4.50' }]);
    expect(describeOwner(owner)).toBe(`l2 · fip 172.24.4.50 (${fip.id.slice(0, 8)})`);
  });

  it('the cookie’s kind picks the object among those whose keys collide', async () => {
    const { driver, net, vm1, router } = await nb();
    expect(net.key).toBe(vm1.key);
    expect(router.key).toBe(net.key);
    const index = await OwnerIndex.fromDriver(driver);
    const slotL2 = pipeline.app('l2').slot;
    const asPort = index.owner(makeCookie(slotL2, vm1.key, OWNER_KINDS.port), pipeline);
    expect(asPort).toMatchObject({ app: 'l2', kind: 'port', tag: vm1.key, candidates: [{ owner: `port:${vm1.id}`, name: 'vm1' }] });
    expect(describeOwner(asPort)).toBe(`l2 · port vm1 (${vm1.id.slice(0, 8)})`);
    expect(describeOwner(index.owner(makeCookie(slotL2, net.key, OWNER_KINDS.network), pipeline))).toBe(`l2 · network blue (${net.id.slice(0, 8)})`);
    const slotL3 = pipeline.app('l3-proactive').slot;
    expect(describeOwner(index.owner(makeCookie(slotL3, router.key, OWNER_KINDS.router), pipeline))).toBe(`l3-proactive · router r1 (${router.id.slice(0, 8)})`);
    // a keyed owner that did not say its kind: every object with that key
    expect(index.owner(makeCookie(slotL2, vm1.key, OWNER_KINDS.object), pipeline).candidates.map((c) => c.owner.split(':')[0]).sort()).toEqual(['network', 'port', 'router']);
  });

  it('a port with no name says what it is (its device owner)', async () => {
    const { driver, rif } = await nb();
    const index = await OwnerIndex.fromDriver(driver);
    expect(describeOwner(index.owner(makeCookie(1, rif.key, OWNER_KINDS.port), pipeline))).toBe(`l2 · port ${rif.id} [network:router_interface]`);
  });

  it('text owners by their hash: the pipeline’s miss flows, `<kind>:<id>` owners; others stay a tag', async () => {
    const { driver, router } = await nb();
    const index = await OwnerIndex.fromDriver(driver);
    expect(describeOwner(index.owner(makeCookie(0, ownerHash(PIPELINE_OWNER)), pipeline))).toBe('core · pipeline [table miss]');
    expect(describeOwner(index.owner(makeCookie(2, ownerHash(`router:${router.id}`)), pipeline))).toBe(`l3-proactive · router r1 (${router.id.slice(0, 8)})`);
    const tag = ownerHash('flood:whatever/3');
    expect(describeOwner(index.owner(makeCookie(1, tag), pipeline))).toBe(`l2 · #0x${tag.toString(16).padStart(8, '0')} (an owner named by text)`);
    // a key the NB does not hold (deleted since), and an app slot the pipeline does not have
    expect(describeOwner(index.owner(makeCookie(1, 999, OWNER_KINDS.port), pipeline))).toBe('l2 · port with key 999 (not in the NB)');
    expect(describeOwner(index.owner(makeCookie(9, 5, OWNER_KINDS.port), pipeline))).toBe('app slot 9 · port with key 5 (not in the NB)');
  });

  it('without an NB (or a pipeline) it still names the core and the miss flows', () => {
    const index = OwnerIndex.empty();
    expect(describeOwner(index.owner(makeCookie(0, ownerHash(PIPELINE_OWNER)), undefined))).toBe('core · pipeline [table miss]');
    expect(describeOwner(index.owner(makeCookie(1, 7, OWNER_KINDS.network), undefined))).toBe('app slot 1 · network with key 7 (not in the NB)');
  });
});
