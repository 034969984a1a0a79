import type { MacAddress } from '@dragonflow/base';

export const OPEN_VSWITCH_DB = 'Open_vSwitch';

/** What a helper did: `created` when the object was new, `changed` names the columns it wrote. */
export interface EnsureResult {
  readonly created: boolean;
  readonly changed: readonly string[];
}

export type FailMode = 'secure' | 'standalone';
export type TunnelType = 'vxlan' | 'geneve' | 'gre';

export interface BridgeOptions {
  /** `netdev` for the userspace datapath, `system` for the kernel one. */
  readonly datapathType?: string;
  readonly failMode?: FailMode;
  /**
   * OpenFlow controller targets (`unix:PATH`, `tcp:IP:PORT`, `punix:...`). Controllers whose
   * target is already set are kept untouched (rewriting one makes OVS reconnect).
   * Absent: leave the controllers alone; empty: remove them all.
   */
  readonly controllerTargets?: readonly string[];
  /** e.g. ['OpenFlow13']. */
  readonly protocols?: readonly string[];
  /** Keys given are enforced; other keys are left as they are. */
  readonly otherConfig?: Readonly<Record<string, string>>;
  readonly externalIds?: Readonly<Record<string, string>>;
  /** Sets other_config:datapath-id (16 hex digits). */
  readonly datapathId?: bigint;
  /** Sets other_config:disable-in-band. */
  readonly disableInBand?: boolean;
}

export interface BridgeInfo {
  readonly uuid: string;
  readonly name: string;
  readonly datapathType: string;
  readonly failMode: FailMode | undefined;
  readonly protocols: readonly string[];
  readonly controllerTargets: readonly string[];
  readonly otherConfig: Readonly<Record<string, string>>;
  readonly externalIds: Readonly<Record<string, string>>;
  readonly ports: readonly string[];
  /** The datapath id vswitchd gave the bridge (its datapath_id column); undefined until vswitchd has written it. */
  readonly datapathId: bigint | undefined;
}

export interface PortOptions {
  /** Interface type: '' (a netdev such as a veth), internal, patch, vxlan, geneve, gre, ... */
  readonly type?: string;
  /** Interface options; compared and written as a whole (they define the port). */
  readonly options?: Readonly<Record<string, string>>;
  /** Interface external_ids (iface-id, attached-mac, iface-status, vm-uuid); keys given are enforced. */
  readonly externalIds?: Readonly<Record<string, string>>;
  readonly ofportRequest?: number;
  readonly mtuRequest?: number;
  /** Port tag: access VLAN. */
  readonly tag?: number;
  /** Interface bfd column (enable, min_tx, min_rx, ...); compared and written as a whole when given. */
  readonly bfd?: Readonly<Record<string, string>>;
}

export interface TunnelPortOptions {
  /** 'flow' (the default) takes the peer from tun_dst set by a flow. */
  readonly remoteIp?: string;
  /** 'flow' (the default) takes the VNI/key from tun_id set by a flow. */
  readonly key?: string;
  readonly localIp?: string;
  readonly dstPort?: number;
  /** BFD on this tunnel (only with a fixed remoteIp): the Interface bfd column, e.g. { enable: 'true', min_tx: '100', min_rx: '100' }. */
  readonly bfd?: Readonly<Record<string, string>>;
  /** Port name; `tun-<type>` by default. */
  readonly name?: string;
  /** Interface external_ids; keys given are enforced (e.g. a mark of who manages the port). */
  readonly externalIds?: Readonly<Record<string, string>>;
}

export interface PatchPairOptions {
  /** Port on the first bridge; `patch-<second bridge>` by default. */
  readonly portA?: string;
  /** Port on the second bridge; `patch-<first bridge>` by default. */
  readonly portB?: string;
}

/** One Interface row joined with its Port and Bridge, typed. */
export interface InterfaceState {
  readonly uuid: string;
  readonly name: string;
  readonly type: string;
  /** The bridge the interface is on (through its Port), if any. */
  readonly bridge: string | undefined;
  readonly port: string | undefined;
  /** Undefined until vswitchd assigns one; -1 when it could not open the interface. */
  readonly ofport: number | undefined;
  /** external_ids:iface-id, the logical port this interface plugs in. */
  readonly ifaceId: string | undefined;
  readonly attachedMac: MacAddress | undefined;
  readonly externalIds: Readonly<Record<string, string>>;
  readonly options: Readonly<Record<string, string>>;
  readonly macInUse: MacAddress | undefined;
  readonly linkState: 'up' | 'down' | undefined;
  readonly adminState: 'up' | 'down' | undefined;
  readonly error: string | undefined;
  /** The Interface bfd_status column (state, forwarding, diagnostic, ...): empty when BFD is not enabled. */
  readonly bfdStatus: Readonly<Record<string, string>>;
}

/** True when the interface plugs a logical port in and the switch has given it a port number. */
export function isBound(state: InterfaceState): boolean {
  return state.ifaceId !== undefined && state.ofport !== undefined && state.ofport > 0;
}

export interface InterfaceChange {
  readonly kind: 'added' | 'updated' | 'removed';
  readonly name: string;
  readonly current?: InterfaceState;
  readonly previous?: InterfaceState;
}
