import { join } from 'node:path';
import { OfListener, silentLogger, switchChannel, type OfConnection, type SwitchChannel } from '@dragonflow/core/host';
import { CleanupStack, shortId, startOvs, type OvsInstance } from '@dragonflow/sandbox';

/** A real Open vSwitch (userspace datapath) bridge with internal ports 1..n, connected to an OpenFlow listener of ours. */
export interface OvsBridge {
  readonly ovs: OvsInstance;
  readonly bridge: string;
  readonly listener: OfListener;
  conn: OfConnection;
  channel: SwitchChannel;
  readonly dpid: bigint;
  readonly controllerSocket: string;
  /** Waits for the switch to (re)connect and refreshes conn/channel. */
  reconnect(): Promise<void>;
  cleanup: CleanupStack;
}

/**
 * Starts OVS in a temp dir with one bridge (netdev datapath, fail_mode=secure,
 * OpenFlow 1.3 only) whose ports 1..n are internal ports, its controller set to a
 * unix socket we listen on. Everything started is registered in `cleanup`.
 */
export async function startOvsBridge(options: { ports: number; dpid: bigint; prefix: string; protocols?: string }): Promise<OvsBridge> {
  const cleanup = new CleanupStack();
  try {
    const tag = shortId();
    const bridge = `${options.prefix}${tag}`.slice(0, 15);
    const ovs = await startOvs();
    cleanup.defer('stop ovs', () => ovs.stop());
    // Deleting the bridge first removes its tap devices; stopping vswitchd alone leaves them behind.
    cleanup.defer('delete the bridge', () => ovs.vsctl('--if-exists', 'del-br', bridge));
    const controllerSocket = join(ovs.dir, 'controller.sock');
    const listener = await OfListener.start({ logger: silentLogger(), unixPath: controllerSocket });
    cleanup.defer('close listener', () => listener.close());
    const ports: string[] = [];
    for (let i = 1; i <= options.ports; i++) {
      const name = `${options.prefix}${tag}p${i}`.slice(0, 15);
      ports.push('--', 'add-port', bridge, name, '--', 'set', 'interface', name, 'type=internal', `ofport_request=${i}`);
    }
    await ovs.vsctl(
      'add-br',
      bridge,
      '--',
      'set',
      'bridge',
      bridge,
      'datapath_type=netdev',
      'fail_mode=secure',
      `protocols=${options.protocols ?? 'OpenFlow13'}`,
      `other-config:datapath-id=${options.dpid.toString(16).padStart(16, '0')}`,
      ...ports,
    );
    await ovs.vsctl('set-controller', bridge, `unix:${controllerSocket}`);
    // reconnect quickly after a controller restart (the default backoff grows to 8 s)
    await ovs.vsctl('set', 'controller', bridge, 'max_backoff=1000');
    const conn = await listener.waitForSwitch(options.dpid, 20_000);
    const b: OvsBridge = {
      ovs,
      bridge,
      listener,
      conn,
      channel: switchChannel(conn),
      dpid: options.dpid,
      controllerSocket,
      cleanup,
      async reconnect() {
        b.conn = await listener.waitForSwitch(options.dpid, 20_000);
        b.channel = switchChannel(b.conn);
      },
    };
    return b;
  } catch (err) {
    const problems = await cleanup.run();
    throw new Error(`starting OVS failed: ${(err as Error).message}${problems.length ? `; cleanup: ${problems.join('; ')}` : ''}`, { cause: err });
  }
}

/** Runs an ovs-appctl command against this instance's ovs-vswitchd. */
export function vswitchd(b: OvsBridge, ...args: string[]): Promise<string> {
  return b.ovs.appctl(...args);
}

/** OpenFlow port number of each datapath (odp) port number, from `ovs-appctl dpif/show`. */
export async function datapathPorts(b: OvsBridge): Promise<Map<number, number>> {
  const text = await vswitchd(b, 'dpif/show');
  const out = new Map<number, number>();
  for (const m of text.matchAll(/^\s+\S+ (\d+)\/(\d+):/gm)) out.set(Number(m[2]), Number(m[1]));
  return out;
}

/**
 * `ofproto/trace` of a packet (its bytes) entering as `flowSpec` says (`in_port=1`,
 * tunnel metadata, …): the whole text, the datapath actions, and the OpenFlow ports
 * the packet is output to, sorted.
 */
export async function traceOutputs(b: OvsBridge, flowSpec: string, frame: Uint8Array): Promise<{ text: string; datapath: string; outputs: number[] }> {
  const text = await vswitchd(b, 'ofproto/trace', b.bridge, flowSpec, Buffer.from(frame).toString('hex'));
  const datapath = /^Datapath actions: (.*)$/m.exec(text)?.[1];
  if (datapath === undefined) throw new Error(`no datapath actions in the trace:\n${text}`);
  const ports = await datapathPorts(b);
  const outputs = datapath
    // commas inside set(...) and friends are not action separators
    .split(/,(?![^()]*\))/)
    .map((a) => a.trim())
    .filter((a) => /^\d+$/.test(a))
    .map((a) => ports.get(Number(a))!)
    .sort((x, y) => x - y);
  return { text, datapath, outputs };
}
