import { packet } from '@dragonflow/core';
import { afterEach, describe, expect, it } from 'vitest';
import { ACK, Cloud, PSH_ACK, SYN, ping, tcp, udp, type Vm } from '../test/cloud.js';

let c: Cloud;
afterEach(async () => {
  // every test ends without a handler error, a refused flow or a switch error
  expect(await c.errors()).toBe(0);
  await c.stop();
});

const synAck = SYN | ACK;

/** A flow as ovs-ofctl prints it, without the counters that change as packets go through. */
const strip = (f: string): string => f.replace(/duration=[^,]*, /, '').replace(/n_packets=\d+, n_bytes=\d+, /, '');

/** A TCP connection client → server that the switch let through both ways (SYN, SYN+ACK). */
async function connect(client: Vm, server: Vm, clientPort: number, serverPort: number): Promise<void> {
  expect(await c.send(client, tcp(client, server, clientPort, serverPort, SYN)), 'SYN').toEqual([server.ofport]);
  expect(await c.send(server, tcp(server, client, serverPort, clientPort, synAck)), 'SYN+ACK').toEqual([client.ofport]);
}

describe('sg: the default group', () => {
  it('lets members ping each other and talk TCP both ways', async () => {
    c = await Cloud.start();
    const { sub } = await c.net('net1', '10.0.0.0/24');
    const def = await c.defaultGroup();
    const a = await c.vm(sub, '10.0.0.11', 1, [def]);
    const b = await c.vm(sub, '10.0.0.12', 2, [def]);
    expect(await c.send(a, ping(a, b))).toEqual([2]);
    expect(await c.send(b, ping(b, a, 1, true))).toEqual([1]);
    await connect(b, a, 40000, 22);
    expect(await c.send(b, tcp(b, a, 40000, 22, PSH_ACK, 'hello'))).toEqual([1]);
    expect(await c.send(a, tcp(a, b, 22, 40000, PSH_ACK, 'welcome'))).toEqual([2]);
  });

  it('drops what a non-member starts towards a member, and lets the member reach it and hear back', async () => {
    c = await Cloud.start();
    const { sub } = await c.net('net1', '10.0.0.0/24');
    const def = await c.defaultGroup();
    const other = await c.group('other', [{ direction: 'egress', ethertype: 'IPv4' }, { direction: 'ingress', ethertype: 'IPv4' }]);
    const member = await c.vm(sub, '10.0.0.11', 1, [def]);
    const stranger = await c.vm(sub, '10.0.0.12', 2, [other]);
    expect(await c.send(stranger, ping(stranger, member))).toEqual([]);
    expect(await c.send(stranger, tcp(stranger, member, 40000, 22))).toEqual([]);
    expect(await c.send(member, ping(member, stranger, 7))).toEqual([2]);
    expect(await c.send(stranger, ping(stranger, member, 7, true))).toEqual([1]);
  });

  it('with ≤ 15 flows per port (printed), all the rest shared', async () => {
    c = await Cloud.start();
    const { sub } = await c.net('net1', '10.0.0.0/24');
    const def = await c.defaultGroup();
    const before = c.flows().length;
    await c.vm(sub, '10.0.0.11', 1, [def]);
    const one = c.flows().length;
    for (let i = 2; i <= 5; i++) await c.vm(sub, `10.0.0.${10 + i}`, i, [def]);
    const perPort = (c.flows().length - one) / 4;
    console.log(`sg flows: ${before} with no port, ${one} with one port, ${perPort} per further port in the default group`);
    expect(perPort).toBeLessThanOrEqual(15);
    expect(perPort).toBeGreaterThan(0);
    // a group of 4 rules (ssh, http, https, ping) beside the default group: the rules' flows are the group's, not the ports'
    const web = await c.group('web', [
      { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 22, portRangeMax: 22 },
      { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 80, portRangeMax: 80 },
      { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 443, portRangeMax: 443 },
      { direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp', portRangeMin: 8 },
    ]);
    const withGroup = c.flows().length;
    await c.vm(sub, '10.0.0.50', 50, [def, web]);
    const first = c.flows().length;
    for (let i = 51; i <= 54; i++) await c.vm(sub, `10.0.0.${i}`, i, [def, web]);
    // (a chassis holds a group once a local port is in it: the group's flows come with its first port)
    console.log(`sg flows with default + a 4-rule group: ${first - withGroup} with its first port (the group's verdicts and clauses, and the port's own), ${(c.flows().length - first) / 4} per further port`);
  });
});

describe('sg: incremental', () => {
  it('a port joining a group of ten adds only its own flows and its address; a rule added adds only its own', async () => {
    c = await Cloud.start();
    const { sub } = await c.net('net1', '10.0.0.0/24');
    const def = await c.defaultGroup();
    for (let i = 1; i <= 10; i++) await c.vm(sub, `10.0.0.${10 + i}`, i, [def]);
    const before = new Set(c.flowTexts().map(strip));
    const joiner = await c.vm(sub, '10.0.0.99', 99, [def]);
    const after = c.flowTexts().map(strip);
    const added = after.filter((f) => !before.has(f));
    const removed = [...before].filter((f) => !after.includes(f));
    expect(removed).toEqual([]);
    expect(added).toHaveLength(7);
    // its entry flows and port clauses name its key; the member clause its address
    const key = `0x${joiner.port.key.toString(16)}`;
    expect(added.filter((f) => f.includes(`reg6=${key}`) || f.includes(`reg7=${key}`))).toHaveLength(6);
    expect(added.filter((f) => f.includes('nw_src=10.0.0.99'))).toHaveLength(1);

    const before2 = new Set(c.flowTexts().map(strip));
    await c.addRule(def, { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 22, portRangeMax: 22 });
    const after2 = c.flowTexts().map(strip);
    const added2 = after2.filter((f) => !before2.has(f));
    // its verdict and its clause, and every local member's port clause now carries its conjunction (changed in place)
    expect(added2.filter((f) => f.includes('conj_id=') || f.includes('tp_dst=22'))).toHaveLength(2);
    expect(added2.filter((f) => !f.includes('conj_id=') && !f.includes('tp_dst=22')).every((f) => /reg7=0x[0-9a-f]+ actions=conjunction/.test(f))).toBe(true);
  });
});

describe('sg: stateful rules', () => {
  it('passes replies only after the VM opened the connection', async () => {
    c = await Cloud.start();
    const { sub } = await c.net('net1', '10.0.0.0/24');
    const out = await c.group('out-only', [{ direction: 'egress', ethertype: 'IPv4' }]);
    const vm = await c.vm(sub, '10.0.0.11', 1, [out]);
    const peer = await c.vm(sub, '10.0.0.12', 2, [], { portSecurityEnabled: false });
    expect(await c.send(peer, udp(peer, vm, 53, 5000))).toEqual([]);
    expect(await c.send(vm, udp(vm, peer, 5000, 53))).toEqual([2]);
    expect(await c.send(peer, udp(peer, vm, 53, 5000))).toEqual([1]);
    expect(await c.send(peer, udp(peer, vm, 53, 5001))).toEqual([]);
    expect(await c.send(peer, tcp(peer, vm, 80, 40000, synAck))).toEqual([]);
  });

  it('lets in an ICMP error about an allowed connection (related), not one about nothing', async () => {
    c = await Cloud.start();
    const { sub } = await c.net('net1', '10.0.0.0/24');
    const out = await c.group('out-only', [{ direction: 'egress', ethertype: 'IPv4' }]);
    const vm = await c.vm(sub, '10.0.0.11', 1, [out]);
    const peer = await c.vm(sub, '10.0.0.12', 2, [], { portSecurityEnabled: false });
    const sent = udp(vm, peer, 5000, 53);
    expect(await c.send(vm, sent)).toEqual([2]);
    // port unreachable, quoting the IP header and 8 bytes of what vm sent (or of something vm never sent)
    const unreachable = (quoted: packet.EthernetFrame) =>
      packet.ethernet({ src: peer.mac, dst: vm.mac, payload: packet.ipv4({ src: peer.ip, dst: vm.ip, payload: packet.icmp({ type: 3, code: 3, data: packet.encodeEthernet(quoted).slice(14, 14 + 28) }) }) });
    expect(await c.send(peer, unreachable(sent))).toEqual([1]);
    expect(await c.send(peer, unreachable(udp(vm, peer, 5001, 53)))).toEqual([]);
  });

  it('lets in only what the rules allow: a tcp port range, an icmp type, a remote prefix', async () => {
    c = await Cloud.start();
    const { sub } = await c.net('net1', '10.0.0.0/24');
    const web = await c.group('web', [
      { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 8000, portRangeMax: 8080 },
      { direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp', portRangeMin: 8, portRangeMax: 0 },
      { direction: 'ingress', ethertype: 'IPv4', protocol: 'udp', remoteIpPrefix: '10.0.0.12/32' },
    ]);
    const server = await c.vm(sub, '10.0.0.11', 1, [web]);
    const near = await c.vm(sub, '10.0.0.12', 2, [], { portSecurityEnabled: false });
    const far = await c.vm(sub, '10.0.0.13', 3, [], { portSecurityEnabled: false });
    for (const port of [8000, 8001, 8042, 8079, 8080]) expect(await c.send(near, tcp(near, server, 40000 + port, port)), `tcp ${port}`).toEqual([1]);
    for (const port of [7999, 8081, 22, 80]) expect(await c.send(near, tcp(near, server, 40000 + port, port)), `tcp ${port}`).toEqual([]);
    expect(await c.send(near, ping(near, server, 3))).toEqual([1]);
    // an echo reply nobody asked for: icmp type 0 is not allowed (and conntrack calls it invalid)
    expect(await c.send(near, ping(near, server, 4, true))).toEqual([]);
    expect(await c.send(near, udp(near, server, 5000, 9999))).toEqual([1]);
    expect(await c.send(far, udp(far, server, 5000, 9999))).toEqual([]);
    // the server answers what it let in, without an egress rule: its reply is +est+rpl
    expect(await c.send(server, tcp(server, near, 8042, 48042, synAck))).toEqual([2]);
  });

  it('lets in members of a remote group, follows membership, and cuts the connection of a member that leaves', async () => {
    c = await Cloud.start();
    const { sub } = await c.net('net1', '10.0.0.0/24');
    const app = await c.group('app', [{ direction: 'egress', ethertype: 'IPv4' }]);
    const db = await c.group('db', [{ direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 5432, portRangeMax: 5432, remoteGroupId: app.id }]);
    const dbVm = await c.vm(sub, '10.0.0.11', 1, [db]);
    const x = await c.vm(sub, '10.0.0.12', 2, [app]);
    const y = await c.vm(sub, '10.0.0.13', 3, []);
    await connect(x, dbVm, 41000, 5432);
    expect(await c.send(y, tcp(y, dbVm, 41000, 5432)), 'y is not a member (and may send nothing)').toEqual([]);

    // y joins app: allowed at once
    await c.setGroups(y, [app]);
    await connect(y, dbVm, 41001, 5432);
    // x leaves app (into a group that lets it send anything): its open connection ends at its next packet, y's goes on
    await c.setGroups(x, [await c.group('out', [{ direction: 'egress', ethertype: 'IPv4' }])]);
    expect(await c.send(x, tcp(x, dbVm, 41000, 5432, PSH_ACK, 'still there?')), 'x, out of app, is refused at the db').toEqual([]);
    expect(await c.send(dbVm, tcp(dbVm, x, 5432, 41000, PSH_ACK, 'answer')), 'the db side of the cut connection is dropped too').toEqual([]);
    expect(await c.send(y, tcp(y, dbVm, 41001, 5432, PSH_ACK, 'query'))).toEqual([1]);
    expect(await c.send(dbVm, tcp(dbVm, y, 5432, 41001, PSH_ACK, 'rows'))).toEqual([3]);
  });

  it('removing a rule ends the established connections it allowed at their next packet, and no other', async () => {
    c = await Cloud.start();
    const { sub } = await c.net('net1', '10.0.0.0/24');
    let srv = await c.group('srv', [
      { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 22, portRangeMax: 22 },
      { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 80, portRangeMax: 80 },
    ]);
    const server = await c.vm(sub, '10.0.0.11', 1, [srv]);
    const client = await c.vm(sub, '10.0.0.12', 2, [], { portSecurityEnabled: false });
    await connect(client, server, 40022, 22);
    await connect(client, server, 40080, 80);

    const ssh = srv.rules.find((r) => r.portRangeMin === 22)!;
    srv = await c.removeRule(srv, ssh.id);
    // a reply already on its way still passes: the connection is judged at its next packet in the original direction
    expect(await c.send(server, tcp(server, client, 22, 40022, PSH_ACK, 'motd'))).toEqual([2]);
    const cut = await c.send(client, tcp(client, server, 40022, 22, PSH_ACK, 'ls'));
    expect(cut).toEqual([]);
    expect(await c.send(server, tcp(server, client, 22, 40022, PSH_ACK, 'late output')), 'replies of the cut connection').toEqual([]);
    expect(await c.send(client, tcp(client, server, 40023, 22)), 'new ssh').toEqual([]);
    // the web connection is untouched
    expect(await c.send(client, tcp(client, server, 40080, 80, PSH_ACK, 'GET /'))).toEqual([1]);
    expect(await c.send(server, tcp(server, client, 80, 40080, PSH_ACK, '200 OK'))).toEqual([2]);

    // the rule back: the blocked connection is allowed again at its next packet
    await c.addRule(srv, { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 22, portRangeMax: 22 });
    expect(await c.send(client, tcp(client, server, 40022, 22, PSH_ACK, 'ls again'))).toEqual([1]);
    expect(await c.send(server, tcp(server, client, 22, 40022, PSH_ACK, 'files'))).toEqual([2]);
  });

  it('shows in a trace which rule allowed a packet and which flow dropped one', async () => {
    c = await Cloud.start();
    const { sub } = await c.net('net1', '10.0.0.0/24');
    const web = await c.group('web', [{ direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 8000, portRangeMax: 8000 }]);
    const server = await c.vm(sub, '10.0.0.11', 1, [web]);
    const client = await c.vm(sub, '10.0.0.12', 2, [], { portSecurityEnabled: false });
    const ok = c.trace(client, tcp(client, server, 40000, 8000));
    expect(ok.ports).toEqual([1]);
    expect(ok.hops.map((h) => h.flow?.owner)).toContain(`sg:${web.id}:rule:${web.rules[0]!.id}`);
    const no = c.trace(client, tcp(client, server, 40000, 8001));
    expect(no.ports).toEqual([]);
    expect(no.hops.at(-1)).toMatchObject({ tableName: 'sg.to-port-rules', flow: { owner: 'sg:conntrack', priority: 50 } });
  });
});

describe('sg: remote members elsewhere', () => {
  it('matches a remote-group member bound to another chassis on a network this chassis does not hold', async () => {
    c = await Cloud.start();
    const { sub } = await c.net('net1', '10.0.0.0/24');
    const far = await c.net('net2', '10.9.0.0/24');
    const c2 = await c.h.addChassis('compute-2', { tunnelIp: '192.0.2.2' });
    const app = await c.group('app', [{ direction: 'egress', ethertype: 'IPv4' }]);
    const db = await c.group('db', [{ direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 5432, portRangeMax: 5432, remoteGroupId: app.id }]);
    await c.vm(sub, '10.0.0.11', 1, [db]);
    const member = await c.h.port(far.sub, '10.9.0.7', 'fa:16:3e:00:09:07', { securityGroupIds: [app.id] });
    await c.h.bindRemote(member, c2);
    const memberClauses = () => c.flowTexts().filter((f) => f.includes('nw_src=10.9.0.7'));
    expect(memberClauses()).toHaveLength(1);
    expect(c.h.topology.get('logical_switch', far.net.id)).toBeUndefined();
    // every app copes with a port whose network is not held (no handler error anywhere)
    expect((await c.h.metrics.handlerErrors.get()).values.reduce((n, v) => n + v.value, 0)).toBe(0);
    // the member leaves the group: its address is no longer matched
    await c.h.nb.modify('logical_port', member.id, (p) => ({ ...p, securityGroupIds: [] }));
    await c.h.settle();
    expect(memberClauses()).toHaveLength(0);
  });
});

describe('sg: traffic between chassis', () => {
  it('judges what comes from a tunnel by the receiver’s ingress rules only (the sender’s egress rules were applied on its chassis)', async () => {
    const TUNNEL = 100;
    c = await Cloud.start({ tunnelPort: TUNNEL });
    const c2 = await c.h.addChassis('chassis-2', { tunnelIp: '192.0.2.2' });
    const net = await c.h.network('net1', { networkType: 'vxlan', segmentationId: 5001 } as never);
    const sub = await c.h.subnet(net, '10.0.0.0/24');
    const web = await c.group('web', [{ direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 8000, portRangeMax: 8000 }]);
    const silent = await c.group('sends-nothing', []);
    const vm = await c.vm(sub, '10.0.0.1', 1, [web]);
    const remotePort = await c.h.port(sub, '10.0.0.3', 'fa:16:3e:00:00:33', { securityGroupIds: [silent.id], chassisId: c2.id });
    await c.h.settle();
    const remote: Vm = { port: remotePort, ofport: TUNNEL, mac: 'fa:16:3e:00:00:33', ip: '10.0.0.3' };
    const fromTunnel = async (frame: packet.EthernetFrame) => (await c.h.inject(frame, TUNNEL, { id: 5001n })).ports;
    // the remote VM's group allows it to send nothing: that was its chassis' to enforce
    expect(await fromTunnel(tcp(remote, vm, 40000, 8000))).toEqual([1]);
    expect(await fromTunnel(tcp(remote, vm, 40001, 8001))).toEqual([]);
    // vm has no egress rule; its answer is a reply and goes out on the tunnel
    const answer = await c.h.inject(tcp(vm, remote, 8000, 40000, synAck), 1);
    expect(answer.outputs.map((o) => [o.port, o.tunnel?.dst])).toEqual([[TUNNEL, '192.0.2.2']]);
    expect((await c.h.inject(tcp(vm, remote, 40002, 22), 1)).ports).toEqual([]);
  });
});

describe('sg: Neutron defaults', () => {
  it('a port with port security and no group: all IP dropped both ways, ARP and DHCP pass', async () => {
    c = await Cloud.start();
    const { sub } = await c.net('net1', '10.0.0.0/24');
    const lonely = await c.vm(sub, '10.0.0.11', 1, []);
    const peer = await c.vm(sub, '10.0.0.12', 2, [], { portSecurityEnabled: false });
    expect(await c.send(lonely, ping(lonely, peer))).toEqual([]);
    expect(await c.send(lonely, udp(lonely, peer, 5000, 53))).toEqual([]);
    expect(await c.send(peer, ping(peer, lonely))).toEqual([]);
    const arp = packet.ethernet({ src: lonely.mac, dst: peer.mac, payload: packet.arp({ op: 2, sha: lonely.mac, spa: lonely.ip, tha: peer.mac, tpa: peer.ip }) });
    expect(await c.send(lonely, arp)).toEqual([2]);
    const dhcp = packet.ethernet({ src: lonely.mac, dst: peer.mac, payload: packet.ipv4({ src: '0.0.0.0', dst: peer.ip, payload: packet.udp({ srcPort: 68, dstPort: 67, payload: 'x' }) }) });
    expect(await c.send(lonely, dhcp)).toEqual([2]);
  });

  it('a port with port security disabled and a network:* port get no flows: everything passes', async () => {
    c = await Cloud.start();
    const { sub } = await c.net('net1', '10.0.0.0/24');
    const open = await c.vm(sub, '10.0.0.11', 1, [], { portSecurityEnabled: false });
    const rif = await c.vm(sub, '10.0.0.2', 3, [], { deviceOwner: 'network:dhcp' });
    const peer = await c.vm(sub, '10.0.0.12', 2, [], { portSecurityEnabled: false });
    expect(await c.send(peer, tcp(peer, open, 40000, 22))).toEqual([1]);
    expect(await c.send(peer, udp(peer, rif, 5000, 53))).toEqual([3]);
    const texts = c.flowTexts();
    expect(texts.some((f) => f.includes('reg6=') || f.includes('reg7=')), 'the app has flows for ports (the peer is enforced)').toBe(false);
    // a port with port security gets its own flows: the check above can see them
    await c.vm(sub, '10.0.0.13', 4, []);
    expect(c.flowTexts().some((f) => f.includes('reg7=0x') || f.includes('reg7='))).toBe(true);
  });

  it('enforces a stateless group without conntrack: replies need their own rules', async () => {
    c = await Cloud.start();
    const { sub } = await c.net('net1', '10.0.0.0/24');
    const sl = await c.group('stateless', [{ direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 22, portRangeMax: 22 }], { stateful: false });
    const vm = await c.vm(sub, '10.0.0.11', 1, [sl]);
    const peer = await c.vm(sub, '10.0.0.12', 2, [], { portSecurityEnabled: false });
    expect(await c.send(peer, tcp(peer, vm, 40000, 22))).toEqual([1]);
    expect(await c.send(vm, tcp(vm, peer, 22, 40000, synAck)), 'no egress rule: the reply is dropped').toEqual([]);
    // an ACK with no connection: conntrack would call it invalid; stateless, the rule lets it in
    expect(await c.send(peer, tcp(peer, vm, 40001, 22, ACK))).toEqual([1]);
    await c.addRule(sl, { direction: 'egress', ethertype: 'IPv4', protocol: 'tcp' });
    expect(await c.send(vm, tcp(vm, peer, 22, 40000, synAck))).toEqual([2]);
    expect(c.h.fakeSwitch.connections().length).toBe(0);
  });
});

describe('sg: a port in stateful and stateless groups (df-api accepts it; Neutron refuses)', () => {
  it('is tracked: what a stateless rule lets in is committed, and its replies pass as replies', async () => {
    c = await Cloud.start();
    const { sub } = await c.net('net1', '10.0.0.0/24');
    const tracked = await c.group('tracked', []);
    const sl = await c.group('stateless', [{ direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 22, portRangeMax: 22 }], { stateful: false });
    const vm = await c.vm(sub, '10.0.0.11', 1, [tracked, sl]);
    const peer = await c.vm(sub, '10.0.0.12', 2, [], { portSecurityEnabled: false });
    expect(await c.send(peer, tcp(peer, vm, 40000, 22))).toEqual([1]);
    expect(await c.send(vm, tcp(vm, peer, 22, 40000, synAck)), 'no egress rule, but a reply').toEqual([2]);
    expect(await c.send(vm, tcp(vm, peer, 40000, 80)), 'no egress rule for a new connection').toEqual([]);
  });
});

describe('sg: IPv6 and isolation', () => {
  it('enforces IPv6 rules (icmpv6 echo, tcp from a prefix); neighbour discovery passes', async () => {
    c = await Cloud.start();
    const { sub } = await c.net('net6', 'fd00::/64');
    const g = await c.group('v6', [
      { direction: 'ingress', ethertype: 'IPv6', protocol: 'ipv6-icmp', portRangeMin: 128 },
      { direction: 'ingress', ethertype: 'IPv6', protocol: 'tcp', portRangeMin: 443, portRangeMax: 443, remoteIpPrefix: 'fd00::12/128' },
    ]);
    const vm = await c.vm(sub, 'fd00::11', 1, [g]);
    const near = await c.vm(sub, 'fd00::12', 2, [], { portSecurityEnabled: false });
    const far = await c.vm(sub, 'fd00::13', 3, [], { portSecurityEnabled: false });
    expect(await c.send(near, ping(near, vm))).toEqual([1]);
    expect(await c.send(near, tcp(near, vm, 40000, 443))).toEqual([1]);
    expect(await c.send(far, tcp(far, vm, 40000, 443))).toEqual([]);
    expect(await c.send(near, tcp(near, vm, 40000, 80))).toEqual([]);
    expect(await c.send(vm, ping(vm, near)), 'no egress rule').toEqual([]);
    const na = packet.ethernet({ src: vm.mac, dst: near.mac, payload: packet.ipv6({ src: vm.ip, dst: near.ip, hopLimit: 255, payload: { kind: 'icmpv6', type: 136, code: 0, body: new Uint8Array(20) } as never }) });
    expect(await c.send(vm, na)).toEqual([2]);
  });

  it('two ports with the same address on two networks never share conntrack state', async () => {
    c = await Cloud.start();
    const n1 = await c.net('net1', '10.0.0.0/24');
    const n2 = await c.net('net2', '10.0.0.0/24');
    const out = await c.group('out-only', [{ direction: 'egress', ethertype: 'IPv4' }]);
    const a1 = await c.vm(n1.sub, '10.0.0.11', 1, [out]);
    const b1 = await c.vm(n1.sub, '10.0.0.12', 2, [], { portSecurityEnabled: false });
    const a2 = await c.vm(n2.sub, '10.0.0.11', 3, [out]);
    const b2 = await c.vm(n2.sub, '10.0.0.12', 4, [], { portSecurityEnabled: false });
    await connect(a1, b1, 40000, 80);
    // the same 5-tuple on the other network is no reply to anything there
    expect(await c.send(b2, tcp(b2, a2, 80, 40000, synAck))).toEqual([]);
    expect(await c.send(b2, tcp(b2, a2, 80, 40000, PSH_ACK, 'x'))).toEqual([]);
    expect(await c.send(b1, tcp(b1, a1, 80, 40000, PSH_ACK, 'y'))).toEqual([1]);
    // a1's connection is in a1's zone only; a2's own connection makes a second zone
    expect(new Set(c.h.fakeSwitch.connections().map((k) => k.zone)).size).toBe(1);
    await connect(a2, b2, 40000, 80);
    expect(new Set(c.h.fakeSwitch.connections().map((k) => k.zone)).size).toBe(2);
  });
});
