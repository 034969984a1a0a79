import { join } from 'node:path';
import { OfListener, silentLogger, switchChannel, type Logger } from '@dragonflow/core';
import { EthType, OfPort, act, describeOfError, flowMod, formatFlow, inst } from '@dragonflow/openflow';
import { CleanupStack, shortId, startOvs } from '@dragonflow/sandbox';
import type { Command } from 'commander';

export interface DemoOptions {
  /** Where progress goes (stdout by default). */
  readonly out?: (line: string) => void;
  readonly logger?: Logger;
}

/**
 * The first demo: a userspace Open vSwitch in a temporary directory, our OpenFlow
 * controller listening on a unix socket, a secure-mode bridge pointed at it, one
 * flow installed and confirmed by a barrier, shown by `ovs-ofctl dump-flows`, then
 * everything torn down. Returns the dump-flows text.
 */
export async function runDemo(options: DemoOptions = {}): Promise<string> {
  const out = options.out ?? ((line: string) => console.log(line));
  const cleanup = new CleanupStack();
  const bridge = `df-demo${shortId(4)}`.slice(0, 15);
  try {
    out('• starting Open vSwitch (ovsdb-server + ovs-vswitchd, userspace datapath) in a temporary directory');
    const ovs = await startOvs();
    cleanup.defer('stop Open vSwitch', () => ovs.stop());
    out(`  ${ovs.dir}`);

    const socket = join(ovs.dir, 'df-controller.sock');
    const listener = await OfListener.start({ logger: options.logger ?? silentLogger(), unixPath: socket });
    cleanup.defer('stop the OpenFlow listener', () => listener.close());
    out(`• controller listening for switches on unix:${socket}`);

    await ovs.vsctl('add-br', bridge, '--', 'set', 'bridge', bridge, 'datapath_type=netdev', 'fail_mode=secure', 'protocols=OpenFlow13', 'other-config:datapath-id=00000000000d0f01');
    cleanup.defer('delete the bridge', () => ovs.vsctl('--if-exists', 'del-br', bridge));
    await ovs.vsctl('set-controller', bridge, `unix:${socket}`);
    out(`• bridge ${bridge} (fail_mode=secure) pointed at the controller`);

    const conn = await listener.waitForSwitch(undefined, 20_000);
    const ports = await conn.portDescs();
    out(`• switch connected: datapath id ${conn.datapathId.toString(16).padStart(16, '0')}, OpenFlow 1.3, ${conn.featuresReply?.nTables ?? '?'} tables, ports ${ports.map((p) => p.name).join(', ')}`);

    const flow = flowMod({
      tableId: 0,
      priority: 100,
      cookie: 0xdf0001n,
      match: { eth_type: EthType.IPV4, ipv4_dst: '10.0.0.0/24' },
      instructions: [inst.apply(act.decNwTtl(), act.setField('eth_dst', '02:00:00:00:00:01'), act.output(OfPort.LOCAL))],
    });
    const { xid: _xid, ...request } = flow;
    const outcome = await switchChannel(conn).sendBatch([request]);
    if (outcome.errors.length) throw new Error(`the switch refused the demo flow: ${describeOfError(outcome.errors[0]!.error)}`);
    out(`• installed, confirmed by a barrier: ${formatFlow(flow, { stats: false })}`);

    const dump = await ovs.ofctl('-O', 'OpenFlow13', 'dump-flows', bridge);
    out(`• ovs-ofctl -O OpenFlow13 dump-flows ${bridge}`);
    for (const line of dump.trimEnd().split('\n')) out(`  ${line}`);
    return dump;
  } finally {
    out('• tearing down');
    const problems = await cleanup.run();
    for (const p of problems) out(`  cleanup problem: ${p}`);
  }
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('start a userspace Open vSwitch in a temporary directory, connect our OpenFlow controller, install a flow, show it with ovs-ofctl dump-flows, tear down')
    .action(async () => {
      if (typeof process.getuid === 'function' && process.getuid() !== 0) {
        throw new Error('the demo starts Open vSwitch and creates network devices: run it as root (or with sudo)');
      }
      await runDemo();
    });
}
