import type { LogicalPort, NbObject, TableName } from '@dragonflow/nb';
import type { EthernetFrame } from '@dragonflow/packet';
import type { Instruction, Match } from '@dragonflow/openflow';

/** A change of one watched model object (old/new undefined for create/delete). */
export interface ModelChange<T extends TableName = TableName> {
  readonly kind: 'created' | 'updated' | 'deleted';
  readonly table: T;
  readonly id: string;
  readonly old: NbObject<T> | undefined;
  readonly new: NbObject<T> | undefined;
  /** NB revision of the change. */
  readonly revision: number;
}

/**
 * What the controller's OVSDB Interface monitor reports: an OVS interface carrying
 * `external_ids:iface-id=<logical port id>` appeared, changed or went away on br-int.
 */
export interface PortBindingInput {
  readonly kind: 'bound' | 'unbound';
  /** The logical port id (`external_ids:iface-id`). */
  readonly portId: string;
  /** OpenFlow port number (`ofport`); required for 'bound'. */
  readonly ofport?: number;
  /** OVS interface name. */
  readonly interfaceName?: string;
}

/** Where a local port is attached on br-int. */
export interface LocalBinding {
  readonly portId: string;
  readonly ofport: number;
  readonly interfaceName: string;
}

/**
 * A local port became usable (its interface is on br-int and its model object is
 * known), changed (model or ofport), or stopped being usable.
 */
export interface LocalPortEvent {
  readonly kind: 'bound' | 'updated' | 'unbound';
  readonly port: LogicalPort;
  /** The previous model object on 'updated'. */
  readonly oldPort?: LogicalPort;
  readonly binding: LocalBinding;
  readonly revision: number;
}

/** A port bound to another chassis appeared, changed or went away (or moved here). */
export interface RemotePortEvent {
  readonly kind: 'added' | 'updated' | 'removed';
  readonly port: LogicalPort;
  readonly oldPort?: LogicalPort;
  /** The chassis the port is bound to (for 'removed', the one it was bound to). */
  readonly chassisId: string;
  readonly revision: number;
}

/** The tunnel types a chassis can carry (the NB's tunnel network types). */
export type InfraTunnelType = 'vxlan' | 'geneve' | 'gre';

/**
 * The infrastructure ports of br-int, as the controller discovers them in OVSDB:
 * the flow-based tunnel port of each tunnel type (`options:remote_ip=flow`,
 * `key=flow`) and the patch port to each physical network's bridge (bridge
 * mapping `physnet:br-x` → `br-int:patch-br-x`). Values are OpenFlow port numbers.
 */
export interface InfraPorts {
  readonly tunnels: Readonly<Partial<Record<InfraTunnelType, number>>>;
  /** Physical network name → ofport of its patch port on br-int. */
  readonly providers: Readonly<Record<string, number>>;
}

/** The infrastructure ports changed (a tunnel or patch port appeared, went away or got a new ofport). */
export interface InfraPortsEvent {
  readonly old: InfraPorts;
  readonly new: InfraPorts;
}

export interface SwitchEvent {
  readonly kind: 'connected' | 'disconnected';
  readonly datapathId: bigint;
}

/** A packet the switch punted from one of the app's own tables. */
export interface AppPacketIn {
  /** Table the packet was punted from (one of the app's). */
  readonly tableId: number;
  /** The table's name inside the app. */
  readonly tableName: string;
  readonly cookie: bigint;
  /** The owner of the flow that punted it, when the runtime knows it. */
  readonly owner?: string;
  /** OFPR_* reason. */
  readonly reason: number;
  /** Pipeline fields the switch reported (in_port, metadata, registers, tunnel). */
  readonly match: Match;
  /** The OpenFlow port it entered the switch on (where `ctx.reply` sends an answer). */
  readonly inPort: number;
  /** reg6: the key of the local port that sent it (0 when it did not come from a local port: tunnel, provider network). */
  readonly sourcePortKey: number;
  /** metadata low 32 bits: the network key. */
  readonly networkKey: number;
  /** The packet bytes. */
  readonly data: Uint8Array;
  /** Userdata of a controller(userdata=…) action, when the switch sent NXT_PACKET_IN2. */
  readonly userdata?: Uint8Array;
  /**
   * The decoded frame (undefined when the bytes are not a frame the codec
   * understands), decoded when first read: a handler that needs one layer can read
   * it off `data` (`packet.ipv4UdpPayload`) and leave the rest undecoded.
   */
  readonly frame: EthernetFrame | undefined;
}

/** One of the app's idle/hard-timeout flows (sent with SEND_FLOW_REM) was removed by the switch. */
export interface AppFlowRemoved {
  readonly owner: string | undefined;
  readonly tableId: number;
  readonly priority: number;
  readonly match: Match;
  readonly cookie: bigint;
  /** OFPRR_*: 0 idle timeout, 1 hard timeout, 2 delete. */
  readonly reason: number;
  readonly packetCount: bigint;
  readonly byteCount: bigint;
}

/** A flow found on the switch (flow-stats), in one of the app's tables. */
export interface AppInstalledFlow {
  readonly tableId: number;
  /** The table's name inside the app. */
  readonly tableName: string;
  readonly priority: number;
  readonly match: Match;
  readonly instructions: readonly Instruction[];
  readonly cookie: bigint;
  readonly idleTimeout: number;
  readonly hardTimeout: number;
  readonly flags: number;
  /** Seconds the flow has been on the switch. */
  readonly durationSec: number;
  readonly packetCount: bigint;
  readonly byteCount: bigint;
}

/**
 * Timeout flows on the switch in the app's `adoptTables` that no owner desires, at
 * a (re)connect. Those the app does not re-desire in its handler are deleted.
 */
export interface AppAdoptableFlows {
  readonly datapathId: bigint;
  readonly flows: readonly AppInstalledFlow[];
}
