import { FALLBACK_TUNNEL_BASE, METADATA_NETWORK_MASK, PUNT_ORIGIN_MARK, REG_PUNT_ORIGIN, REG_SRC_PORT, act, flow, type AppTables, type DesiredFlow, type TableRef } from '@dragonflow/core';

/** The app's tables, all in the classify stage (docs/ha.md "Fallback path"). */
export const TABLES = {
  /** On the fallback chassis: a stranded port's punt arriving by tunnel → that port's source port key and network, on to the next stage. */
  fallbackIn: 'fallback-in',
  /** The punt gate: the liveness flow (the controller is alive) sends punts to the controller; its miss goes on to `fallback-out`. */
  gate: 'gate',
  /** The fallback: a punt of a local port → tunnelled to the fallback chassis with the port's key in the tunnel key. */
  fallbackOut: 'fallback-out',
} as const;

/**
 * Tunnel keys from FALLBACK_TUNNEL_BASE up carry a stranded port's punt: key =
 * base + the port's unique key. The band is the top sixteenth of the 24-bit VNI
 * space (VXLAN and Geneve; GRE's 32-bit key holds it too), reserved in the NB: no
 * network may have a segmentation id in it (RESERVED_TUNNEL_KEYS), and port keys
 * below 2^20 can fall back.
 */
export { FALLBACK_TUNNEL_BASE };
/** Port keys that fit the fallback range. */
export const MAX_FALLBACK_PORT_KEY = 0x0f_ffff;

export const PRIORITY = {
  /** The liveness flow in the gate. */
  liveness: 100,
  /** A local port's fallback flow; a stranded port's classification. */
  port: 100,
  /** A punt of no local port (reg6 = 0, e.g. traffic from a tunnel): dropped while the controller is gone. */
  orphan: 1,
} as const;

/** Matches a packet being punted (the core set reg15's mark before resubmitting to the gate). */
export const PUNTING = { [REG_PUNT_ORIGIN]: [PUNT_ORIGIN_MARK, PUNT_ORIGIN_MARK] as [number, number] };

export interface FallbackPipeline {
  readonly fallbackIn: TableRef;
  readonly gate: TableRef;
  readonly fallbackOut: TableRef;
  /** Where a classified stranded packet continues: the first table after the classify stage. */
  readonly afterClassify: number;
}

export function fallbackPipeline(tables: AppTables): FallbackPipeline {
  return { fallbackIn: tables.ref(TABLES.fallbackIn), gate: tables.ref(TABLES.gate), fallbackOut: tables.ref(TABLES.fallbackOut), afterClassify: tables.stageExit('classify') };
}

/**
 * The dead-man switch: while this flow is in the gate, punts go to the controller.
 * It has a hard timeout of `seconds`; the app re-adds it (OFPFC_ADD, which replaces
 * it and restarts the timer) well before that, so it expires only when the
 * controller stops refreshing it — then the gate's miss sends punts on to
 * `fallback-out`.
 */
export function livenessFlow(p: FallbackPipeline, seconds: number): DesiredFlow {
  return flow(p.gate, { priority: PRIORITY.liveness, match: PUNTING, actions: [act.toController(0xffff)], hardTimeout: seconds });
}

/** Where a stranded port's punts go: the fallback chassis' tunnel IP over one of this chassis' tunnel ports. */
export interface FallbackTarget {
  readonly tunnelPort: number;
  readonly tunnelIp: string;
}

export const fallbackTunnelKey = (portKey: number): bigint => BigInt(FALLBACK_TUNNEL_BASE + portKey);

/** A local port's punts, while the liveness flow is gone: to the fallback chassis, its key in the tunnel key. */
export function fallbackOutFlow(p: FallbackPipeline, portKey: number, target: FallbackTarget): DesiredFlow {
  return flow(p.fallbackOut, {
    priority: PRIORITY.port,
    match: { ...PUNTING, [REG_SRC_PORT]: portKey },
    actions: [act.setField('tunnel_id', fallbackTunnelKey(portKey)), act.setField('tun_ipv4_dst', target.tunnelIp), act.output(target.tunnelPort)],
  });
}

/** Punts of no local port are dropped while the controller is gone (they would otherwise continue down the classify stage). */
export function orphanFlow(p: FallbackPipeline): DesiredFlow {
  return flow(p.fallbackOut, { priority: PRIORITY.orphan, match: PUNTING, actions: [] });
}

/**
 * On the fallback chassis: a stranded port's punt arriving on a tunnel port is
 * classified as if the port were local (reg6 := its key, metadata := its network)
 * and continues after the classify stage, so this chassis' apps handle it.
 */
export function fallbackInFlows(p: FallbackPipeline, portKey: number, networkKey: number, tunnelPorts: readonly number[]): DesiredFlow[] {
  return tunnelPorts.map((inPort) =>
    flow(p.fallbackIn, {
      priority: PRIORITY.port,
      match: { in_port: inPort, tunnel_id: fallbackTunnelKey(portKey) },
      // in_port cleared: the packet usually leaves by the tunnel port it came in on (to chassis-2, or back to the stranded chassis),
      // which OpenFlow forbids for the input port. Open vSwitch refuses set_field in_port; a 16-bit NXM load is what it takes.
      actions: [act.setField(REG_SRC_PORT, portKey), act.regLoad({ field: 'in_port', ofs: 0, nBits: 16 }, 0)],
      writeMetadata: { value: BigInt(networkKey), mask: METADATA_NETWORK_MASK },
      goto: p.afterClassify,
    }),
  );
}
