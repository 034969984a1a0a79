import { createHash } from 'node:crypto';
import { type Clock, describeError } from '@dragonflow/base';
import type { Logger } from '@dragonflow/core';
import type { Chassis, LogicalRouter } from '@dragonflow/nb';
import { bfdForwarding, type InterfaceState, type TunnelType, type VswitchDb } from '@dragonflow/ovsdb';

/**
 * The Interface external_id that marks a BFD port as the controller's own; its value
 * is the peer chassis id. Only ports with it are removed when no longer needed.
 */
export const BFD_PEER_MARK = 'dragonflow-bfd-peer';

/** The name of the BFD port to a peer chassis: 'dfbfd-' + 8 hex digits of its id (15 characters at most, like a netdev name). */
export function bfdPortName(peerChassisId: string): string {
  return `dfbfd-${createHash('sha256').update(peerChassisId).digest('hex').slice(0, 8)}`;
}

/**
 * The chassis this one runs BFD to: the other gateway chassis of every router this
 * chassis is a gateway chassis of, with their tunnel IPs. That is all the takeover
 * rule needs (the next gateway chassis watches the active one; docs/ha.md), and both
 * ends of a pair compute each other. A peer without a tunnel IP is left out.
 */
export function bfdPeers(me: string, routers: Iterable<Pick<LogicalRouter, 'externalGateway'>>, chassisOf: (id: string) => Pick<Chassis, 'tunnelIp'> | undefined): Map<string, string> {
  const peers = new Map<string, string>();
  for (const r of routers) {
    const ids = r.externalGateway?.chassisIds ?? [];
    if (!ids.includes(me)) continue;
    for (const id of ids) {
      if (id === me || peers.has(id)) continue;
      const ip = chassisOf(id)?.tunnelIp;
      if (ip) peers.set(id, ip);
    }
  }
  return peers;
}

/** Per peer chassis id: whether its BFD session forwards (only ports of ours whose session reports forwarding). */
export function bfdForwardingFrom(interfaces: ReadonlyMap<string, InterfaceState>): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const i of interfaces.values()) {
    const peer = i.externalIds[BFD_PEER_MARK];
    if (!peer) continue;
    const f = bfdForwarding(i);
    if (f !== undefined) out.set(peer, f);
  }
  return out;
}

export interface BfdPortsSpec {
  readonly bridge: string;
  readonly type: TunnelType;
  readonly localIp: string | undefined;
  readonly minTxMs: number;
  readonly minRxMs: number;
}

/**
 * Brings the BFD ports in line with the peers: one tunnel port per peer with a fixed
 * remote_ip and key 0 beside the flow-based port (OVS picks the port whose remote_ip
 * matches for key 0 and the flow-based one for every other VNI), BFD enabled with
 * the configured intervals, marked with the peer's id; ports of ours to chassis no
 * longer peers are removed. No flow uses these ports: BFD is answered by vswitchd
 * itself, and anything else arriving on them matches no classify flow (dropped).
 */
export async function ensureBfdPorts(vs: VswitchDb, spec: BfdPortsSpec, peers: ReadonlyMap<string, string>, interfaces: ReadonlyMap<string, InterfaceState>, log: Logger): Promise<{ added: string[]; removed: string[] }> {
  const added: string[] = [];
  const removed: string[] = [];
  const bfd = { enable: 'true', min_tx: String(spec.minTxMs), min_rx: String(spec.minRxMs) };
  for (const [peer, ip] of peers) {
    const name = bfdPortName(peer);
    const r = await vs.ensureTunnelPort(spec.bridge, spec.type, {
      name,
      remoteIp: ip,
      key: '0',
      ...(spec.localIp !== undefined ? { localIp: spec.localIp } : {}),
      externalIds: { [BFD_PEER_MARK]: peer },
      bfd,
    });
    if (r.created || r.changed.length > 0) {
      added.push(name);
      log.info({ port: name, peer, remoteIp: ip, changed: r.changed }, 'ensured a BFD port to a gateway chassis');
    }
  }
  for (const i of interfaces.values()) {
    const peer = i.externalIds[BFD_PEER_MARK];
    if (!peer || i.bridge !== spec.bridge || (peers.has(peer) && i.name === bfdPortName(peer))) continue;
    if (await vs.deletePort(spec.bridge, i.name)) {
      removed.push(i.name);
      log.info({ port: i.name, peer }, 'removed a BFD port no longer needed');
    }
  }
  return { added, removed };
}

/** Runs ensureBfdPorts after each change, one run at a time, retrying after a failure. */
export class BfdPortsReconciler {
  private running = false;
  private again = false;
  private stopped = false;
  private cancelRetry: (() => void) | undefined;

  constructor(
    private readonly o: {
      readonly spec: BfdPortsSpec;
      readonly vswitch: () => VswitchDb | undefined;
      readonly peers: () => ReadonlyMap<string, string>;
      readonly interfaces: () => ReadonlyMap<string, InterfaceState>;
      readonly clock: Clock;
      readonly log: Logger;
    },
  ) {}

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    const vs = this.o.vswitch();
    if (!vs) return;
    this.running = true;
    void ensureBfdPorts(vs, this.o.spec, this.o.peers(), this.o.interfaces(), this.o.log)
      .catch((err: unknown) => {
        this.o.log.warn({ err: describeError(err) }, 'cannot set up the BFD ports; retrying');
        this.cancelRetry?.();
        this.cancelRetry = this.o.clock.setTimer(1000, () => this.kick());
      })
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  stop(): void {
    this.stopped = true;
    this.cancelRetry?.();
  }
}
