import l2 from '@dragonflow/app-l2';
import { cookieSlot } from '@dragonflow/core/host';
import { openflow, packet, type LogicalPort, type LogicalSwitch, type SecurityGroup, type Subnet } from '@dragonflow/core';
import { startHarness, type Harness } from '@dragonflow/testing';
import sg from '../src/index.js';

export const SYN = 0x02;
export const ACK = 0x10;
export const PSH_ACK = 0x18;

/** A VM on the FakeSwitch: its NB port, its OpenFlow port, its addresses. */
export interface Vm {
  readonly port: LogicalPort;
  readonly ofport: number;
  readonly mac: string;
  readonly ip: string;
}

export const mac = (n: number): string => `fa:16:3e:00:00:${n.toString(16).padStart(2, '0')}`;

let ruleSeq = 0;
/** A rule id (uuid) of its own per call. */
export const ruleId = (): string => `00000000-0000-4000-8000-${(++ruleSeq).toString(16).padStart(12, '0')}`;

type RuleInput = Partial<SecurityGroup['rules'][number]> & { direction: 'ingress' | 'egress' };

/** The harness with L2 and the security group app, and helpers to build a cloud on it. */
export class Cloud {
  private constructor(readonly h: Harness) {}

  /** With `tunnelPort`: a VXLAN tunnel port on br-int (packets from other chassis come in there). */
  static async start(options: { tunnelPort?: number } = {}): Promise<Cloud> {
    const infraPorts = options.tunnelPort !== undefined ? { infraPorts: { tunnels: { vxlan: options.tunnelPort }, providers: {} } } : {};
    return new Cloud(await startHarness({ apps: [l2, sg], ...infraPorts }));
  }

  async net(name: string, cidr: string): Promise<{ net: LogicalSwitch; sub: Subnet }> {
    const net = await this.h.network(name);
    return { net, sub: await this.h.subnet(net, cidr) };
  }

  async group(name: string, rules: RuleInput[], extra: Partial<SecurityGroup> = {}): Promise<SecurityGroup> {
    return this.h.nb.create('security_group', { name, rules: rules.map((r) => ({ id: ruleId(), ...r })), ...extra } as never);
  }

  /** The project's default group as df-api creates it: any egress, ingress from its members. */
  async defaultGroup(): Promise<SecurityGroup> {
    const g = await this.group('default', []);
    return this.setRules(g, [
      { direction: 'egress', ethertype: 'IPv4' },
      { direction: 'egress', ethertype: 'IPv6' },
      { direction: 'ingress', ethertype: 'IPv4', remoteGroupId: g.id },
      { direction: 'ingress', ethertype: 'IPv6', remoteGroupId: g.id },
    ]);
  }

  async setRules(g: SecurityGroup, rules: (RuleInput & { id?: string })[]): Promise<SecurityGroup> {
    const out = await this.h.nb.modify('security_group', g.id, (cur) => ({ ...cur, rules: rules.map((r) => ({ id: ruleId(), ...r })) }) as never);
    await this.h.settle();
    return out;
  }

  async addRule(g: SecurityGroup, rule: RuleInput): Promise<SecurityGroup> {
    const out = await this.h.nb.modify('security_group', g.id, (cur) => ({ ...cur, rules: [...cur.rules, { id: ruleId(), ...rule }] }) as never);
    await this.h.settle();
    return out;
  }

  async removeRule(g: SecurityGroup, ruleIdToRemove: string): Promise<SecurityGroup> {
    const out = await this.h.nb.modify('security_group', g.id, (cur) => ({ ...cur, rules: cur.rules.filter((r) => r.id !== ruleIdToRemove) }));
    await this.h.settle();
    return out;
  }

  /** A VM port on `sub` plugged into `ofport` (local), in `groups`. */
  async vm(sub: Subnet, ip: string, ofport: number, groups: SecurityGroup[], extra: Partial<LogicalPort> = {}): Promise<Vm> {
    const port = await this.h.port(sub, ip, mac(ofport), { securityGroupIds: groups.map((g) => g.id), ...extra });
    await this.h.plug(port, ofport);
    return { port, ofport, mac: mac(ofport), ip };
  }

  async setGroups(vm: Vm, groups: SecurityGroup[]): Promise<void> {
    await this.h.nb.modify('logical_port', vm.port.id, (p) => ({ ...p, securityGroupIds: groups.map((g) => g.id) }));
    await this.h.settle();
  }

  /** Sends a frame from `from` for real (conntrack state builds up); where it left. */
  async send(from: Vm, frame: packet.EthernetFrame): Promise<number[]> {
    return (await this.h.inject(frame, from.ofport)).ports;
  }

  /** What a frame from `from` would do, without changing conntrack: the trace with its hops. */
  trace(from: Vm, frame: packet.EthernetFrame) {
    return this.h.trace(frame, from.ofport);
  }

  /** The app's errors so far: handler errors, refused flows, switch errors (a test ends with none). */
  async errors(): Promise<number> {
    const m = this.h.metrics;
    let n = 0;
    for (const metric of [m.handlerErrors, m.flowsRefused, m.switchErrors]) n += (await metric.get()).values.filter((v) => v.labels['app'] === 'sg').reduce((s, v) => s + v.value, 0);
    return n;
  }

  /** The app's flows on the switch. */
  flows() {
    const slot = this.h.runtime.pipeline.app('sg').slot;
    return this.h.fakeSwitch.flowStats().filter((f) => cookieSlot(f.cookie) === slot);
  }

  /** The app's flows on the switch as ovs-ofctl prints them. */
  flowTexts(): string[] {
    return this.flows().map((f) => openflow.formatFlow(f));
  }

  async stop(): Promise<void> {
    await this.h.stop();
  }
}

function ipPacket(a: Vm, b: Vm, payload: packet.IpPayload): packet.EthernetFrame {
  const ip = a.ip.includes(':') ? packet.ipv6({ src: a.ip, dst: b.ip, payload }) : packet.ipv4({ src: a.ip, dst: b.ip, payload });
  return packet.ethernet({ src: a.mac, dst: b.mac, payload: ip });
}

export const tcp = (a: Vm, b: Vm, srcPort: number, dstPort: number, flags = SYN, data?: string): packet.EthernetFrame =>
  ipPacket(a, b, packet.tcp({ srcPort, dstPort, flags, ...(data !== undefined ? { payload: data } : {}) }));
export const udp = (a: Vm, b: Vm, srcPort: number, dstPort: number): packet.EthernetFrame => ipPacket(a, b, packet.udp({ srcPort, dstPort, payload: 'x' }));
export const ping = (a: Vm, b: Vm, id = 1, reply = false): packet.EthernetFrame =>
  ipPacket(a, b, a.ip.includes(':') ? packet.icmpv6Echo({ id, seq: 1, reply }) : reply ? packet.icmpEchoReply({ id, seq: 1 }) : packet.icmpEchoRequest({ id, seq: 1 }));
