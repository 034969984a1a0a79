import { spawnSync } from 'node:child_process';
import { DfError, describeError } from '@dragonflow/base';
import { Sandbox } from '@dragonflow/sandbox';
import { CommanderError, Option, type Command } from 'commander';
import { chassisAction, controllerAction, describeAccess, describeRole, formatStatus, requireRoot, resolveSandboxDir, sandboxDown, sandboxStatus, sandboxUp, vmCreate, vmDelete } from '../sandbox/lifecycle.js';
import { appOptionsOption, choice, choices, intOption, type AppOptions } from '../sandbox/options.js';
import { DEFAULT_SANDBOX_APPS, TUNNEL_KINDS, controllerHealth, type DbKind, type TunnelKind } from '../sandbox/services.js';

const DIR_HELP = 'the sandbox directory (default: $DF_SANDBOX_DIR, else the one sandbox that is up)';

/** Runs `command` in `netns` with the terminal attached; its exit code becomes ours. */
function runIn(netns: string, command: readonly string[], where: string, exitName: string): void {
  const r = spawnSync('ip', ['netns', 'exec', netns, ...command], { stdio: 'inherit' });
  if (r.error) throw new DfError('EXEC_FAILED', `cannot run ${command[0]} in ${where}: ${describeError(r.error)}`);
  const code = r.status ?? 1;
  if (code !== 0) throw new CommanderError(code, exitName, '');
}

export function registerSandbox(program: Command): void {
  const sandbox = program
    .command('sandbox')
    .description('a self-contained multi-chassis Dragonflow on this machine: OVS (userspace) per chassis in network namespaces, df-controllers, the NB DB, df-api for the openstack CLI, VMs as namespaces')
    .addHelpText(
      'after',
      `
Example:
  pnpm dfctl sandbox up                      # 2 chassis, memory DB, VXLAN, apps l2 + l3-proactive, df-api on http://127.0.0.1:9696
  pnpm dfctl sandbox up --tunnel vxlan,geneve,gre --apps @dragonflow/app-l2,@dragonflow/app-l3-reactive
  openstack --os-auth-type none --os-endpoint http://127.0.0.1:9696 network create net1
  openstack --os-auth-type none --os-endpoint http://127.0.0.1:9696 subnet create --network net1 --subnet-range 10.0.0.0/24 subnet1
  pnpm dfctl sandbox vm create vm1 --network net1 --chassis 1
  pnpm dfctl sandbox vm create vm2 --network net1 --chassis 2
  pnpm dfctl sandbox exec vm1 -- ping -c 3 10.0.0.x
  pnpm dfctl sandbox status
  pnpm dfctl sandbox down
  pnpm dfctl sandbox up --chassis 3 --external   # + the flat network 'public' and an outside namespace (dfctl sandbox outside -- CMD)
  pnpm dfctl sandbox up --chassis 3 --external --app-options '@dragonflow/app-dnat={mode: centralized}'   # floating IPs on the gateway chassis
Layout and how to reach each part: docs/sandbox.md.`,
    );

  sandbox
    .command('up')
    .description('start the DB, df-api and N chassis, each with ovsdb-server, ovs-vswitchd and df-controller in its own network namespace')
    .option('--chassis <n>', 'number of chassis', intOption('--chassis', 1, 20), 2)
    .option('--db <kind>', 'NB DB: memory (served by df-api), etcd or redis (a real server)', choice<DbKind>('--db', ['memory', 'etcd', 'redis']), 'memory')
    .option('--apps <list>', `comma-separated app packages (default: the installed first-party apps: ${DEFAULT_SANDBOX_APPS.join(', ')})`, (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .option(
      '--app-options <package=options>',
      "options of one app, for every controller's config: the package, '=', a YAML flow mapping or JSON, e.g. '@dragonflow/app-dnat={mode: centralized}' (floating IPs on the gateway chassis) or '@dragonflow/app-snat={mode: distributed, pool: 172.24.4.200/29}'; repeat it for several apps; the app checks them when its controller loads it (docs/nat.md lists the NAT apps' options)",
      appOptionsOption('--app-options'),
    )
    .addOption(
      new Option(
        '--tunnel <types>',
        'tunnel type(s) between chassis, comma-separated (e.g. vxlan,geneve,gre: every chassis gets a port of each, and each network uses the one of its provider:network_type; the first is the type of networks created without one)',
      )
        .argParser(choices<TunnelKind>('--tunnel', TUNNEL_KINDS))
        .default(['vxlan'] as TunnelKind[], 'vxlan'),
    )
    .option('--dir <dir>', 'put everything in this directory (default: a new temporary directory)')
    .option('--api-port <port>', 'df-api port on 127.0.0.1', intOption('--api-port', 1, 65535), 9696)
    .option('--log-level <level>', 'df-api and df-controller log level', choice('--log-level', ['fatal', 'error', 'warn', 'info', 'debug', 'trace']), 'info')
    .option('--external', "an external network: the flat provider network 'public' on every chassis (bridge br-public) and an outside namespace on it playing the upstream router 172.24.4.1 and an internet host 198.51.100.10 (dfctl sandbox outside -- CMD)")
    .option('--gateway-chassis <list>', 'with --external: the chassis registered as gateways, comma-separated (default: the last chassis)', (v: string) => v.split(',').map((x) => intOption('--gateway-chassis', 1, 20)(x.trim())))
    .option('--liveness-ttl <ms>', "every controller's chassis.livenessTtlMs: a killed chassis is seen dead (and its gateways move, docs/ha.md) this long after its last renewal (default: the controller's, 10000)", intOption('--liveness-ttl', 1000, 600_000))
    .option('--fallback-chassis <n>', "with @dragonflow/app-ha-fallback in --apps: the chassis that handles the punts of a chassis whose controller is gone (default: the last chassis); its controller holds the whole topology (docs/ha.md)", intOption('--fallback-chassis', 1, 20))
    .option('--no-gateway-bfd', "every controller's chassis.gatewayBfd.enabled false: gateway failover detects a dead gateway chassis by its liveness lease only (default: BFD between the gateway chassis, docs/ha.md)")
    .action(async (o: { chassis: number; db: DbKind; apps?: string[]; appOptions?: AppOptions; tunnel: TunnelKind[]; dir?: string; apiPort: number; logLevel: string; external?: boolean; gatewayChassis?: number[]; livenessTtl?: number; fallbackChassis?: number; gatewayBfd: boolean }) => {
      const r = await sandboxUp({
        chassis: o.chassis,
        db: o.db,
        ...(o.apps ? { apps: o.apps } : {}),
        ...(o.appOptions ? { appOptions: o.appOptions } : {}),
        tunnel: o.tunnel,
        ...(o.dir ? { dir: o.dir } : {}),
        apiPort: o.apiPort,
        logLevel: o.logLevel,
        external: o.external ?? false,
        ...(o.gatewayChassis ? { gatewayChassis: o.gatewayChassis } : {}),
        ...(o.livenessTtl !== undefined ? { livenessTtlMs: o.livenessTtl } : {}),
        ...(o.fallbackChassis !== undefined ? { fallbackChassis: o.fallbackChassis } : {}),
        ...(o.gatewayBfd ? {} : { gatewayBfd: false }),
      });
      console.log('');
      for (const l of describeAccess(r.services, r.tag)) console.log(l);
    });

  sandbox
    .command('down')
    .description('stop every process the sandbox started (by pid) and remove its namespaces, veths and files')
    .option('--dir <dir>', DIR_HELP)
    .action(async (o: { dir?: string }) => {
      requireRoot('dfctl sandbox down');
      const dir = resolveSandboxDir(o.dir);
      await sandboxDown(dir);
      console.log(`sandbox in ${dir} is down`);
    });

  sandbox
    .command('status')
    .description('chassis, controllers (alive, connected, registered), VMs and their port status')
    .option('--dir <dir>', DIR_HELP)
    .option('--json', 'print as JSON')
    .option('--access', 'also print how to reach each part')
    .action(async (o: { dir?: string; json?: boolean; access?: boolean }) => {
      const dir = resolveSandboxDir(o.dir);
      const r = await sandboxStatus(dir);
      if (o.json) {
        console.log(JSON.stringify(r, null, 2));
        return;
      }
      for (const l of formatStatus(r)) console.log(l);
      if (o.access) {
        const { readServices } = await import('../sandbox/services.js');
        console.log('');
        for (const l of describeAccess(readServices(dir), r.tag)) console.log(l);
      }
    });

  const vm = sandbox.command('vm').description('VMs: network namespaces plugged into a chassis br-int, with a port made through df-api');
  vm.command('create <name>')
    .description('create a port on NETWORK through df-api and a VM (namespace + veth on br-int with the iface-id, MAC, IP, default route via the gateway); waits for the port to become ACTIVE')
    .requiredOption('--network <network>', 'network name or id')
    .option('--subnet <subnet>', 'subnet name or id (default: the network\'s first IPv4 subnet)')
    .option('--chassis <n>', 'chassis to run on (default: the one with fewest VMs)', intOption('--chassis', 1, 200))
    .option('--ip <ip>', 'fixed IP (default: allocated by df-api)')
    .addOption(new Option('--dhcp-client <client>', 'the DHCP client the VM runs when its subnet has DHCP and the dhcp app runs (default: dhclient)').choices(['dhclient', 'udhcpc']))
    .option('--static', 'configure eth0 statically (IP, default route, MTU) even where DHCP would serve it')
    .option('--no-wait', 'do not wait for the port to become ACTIVE (static VMs only)')
    .option('--dir <dir>', DIR_HELP)
    .action(async (name: string, o: { network: string; subnet?: string; chassis?: number; ip?: string; wait: boolean; dir?: string; dhcpClient?: 'dhclient' | 'udhcpc'; static?: boolean }) => {
      const dir = resolveSandboxDir(o.dir);
      const r = await vmCreate(dir, {
        name,
        network: o.network,
        ...(o.subnet ? { subnet: o.subnet } : {}),
        ...(o.chassis ? { chassis: o.chassis } : {}),
        ...(o.ip ? { ip: o.ip } : {}),
        wait: o.wait,
        ...(o.dhcpClient ? { dhcpClient: o.dhcpClient } : {}),
        ...(o.static ? { static: true } : {}),
      });
      console.log(`VM ${r.name} on chassis-${r.chassis}: MAC ${r.mac}, IP ${r.ip} (${r.cidr}${r.gateway ? `, gateway ${r.gateway}` : ''}), port ${r.portId} ${r.status}${r.activeAfterMs !== undefined ? ` (${r.activeAfterMs} ms after plug)` : ''}`);
      if (r.lease) {
        const l = r.lease;
        console.log(`  ${r.addressing}: ${l.ip}/${l.mask}${l.routes ? `, routes ${l.routes}` : l.routers ? `, router ${l.routers}` : ''}${l.dns ? `, DNS ${l.dns}` : ''}${l.mtu ? `, MTU ${l.mtu}` : ''}`);
      } else {
        console.log('  configured statically');
      }
    });
  vm.command('delete <name>')
    .description('unplug and remove the VM, and delete its port through df-api')
    .option('--dir <dir>', DIR_HELP)
    .action(async (name: string, o: { dir?: string }) => {
      const dir = resolveSandboxDir(o.dir);
      const r = await vmDelete(dir, name);
      console.log(`VM ${name} removed; port ${r.portId} ${r.portDeleted ? 'deleted' : `NOT deleted: ${r.problem}`}`);
    });
  vm.command('list')
    .description('the VMs and their ports')
    .option('--dir <dir>', DIR_HELP)
    .action((o: { dir?: string }) => {
      const sb = Sandbox.load(resolveSandboxDir(o.dir));
      for (const v of sb.state.vms) console.log(`${v.name}\tchassis-${v.chassis}\t${v.ip}\t${v.mac}\t${v.portId}`);
    });

  sandbox
    .command('exec <name> [command...]')
    .description('run a command inside a VM (its network namespace): dfctl sandbox exec vm1 -- ping -c 3 10.0.0.5')
    .option('--dir <dir>', DIR_HELP)
    .action((name: string, command: string[], o: { dir?: string }) => {
      requireRoot('dfctl sandbox exec');
      if (command.length === 0) throw new DfError('BAD_OPTION', 'give the command after --, e.g. dfctl sandbox exec vm1 -- ip addr');
      runIn(Sandbox.load(resolveSandboxDir(o.dir)).vm(name).state.netns, command, name, 'df.sandbox.exec');
    });

  sandbox
    .command('outside [command...]')
    .description('run a command in the outside namespace of a sandbox made with --external (the upstream router 172.24.4.1 and the internet host 198.51.100.10): dfctl sandbox outside -- ping -c 3 172.24.4.10')
    .option('--dir <dir>', DIR_HELP)
    .action((command: string[], o: { dir?: string }) => {
      requireRoot('dfctl sandbox outside');
      if (command.length === 0) throw new DfError('BAD_OPTION', 'give the command after --, e.g. dfctl sandbox outside -- ip addr');
      runIn(Sandbox.load(resolveSandboxDir(o.dir)).outside().netns, command, 'the outside namespace', 'df.sandbox.outside');
    });

  const whole = sandbox
    .command('chassis')
    .description('kill a whole chassis (its df-controller and its switch: ovs-vswitchd, ovsdb-server) with SIGKILL, as a crash of the machine would, or start it again')
    .addHelpText(
      'after',
      `
kill N:  SIGKILL to df-controller, ovs-vswitchd and ovsdb-server of chassis N. Its namespace,
         devices and VMs stay; its liveness record expires after chassis.livenessTtlMs, and
         the gateways it was active for move to the next live gateway chassis (docs/ha.md).
start N: starts its switch again (bridges and ports come back from its database; the
         underlay address, tunnel neighbours and provider flows are set up again), then its
         df-controller, and waits until it is connected and in sync.

Example (gateway failover):
  sudo pnpm dfctl sandbox up --chassis 3 --external --gateway-chassis 2,3
  sudo pnpm dfctl sandbox chassis kill 2
  sudo pnpm dfctl status          # gateway ... active chassis-3
  sudo pnpm dfctl sandbox chassis start 2`,
    );
  for (const action of ['kill', 'start'] as const) {
    whole
      .command(`${action} <chassis>`)
      .description(action === 'kill' ? 'SIGKILL the df-controller, ovs-vswitchd and ovsdb-server of chassis N' : 'start the switch and the df-controller of chassis N again, after kill')
      .option('--dir <dir>', DIR_HELP)
      .action(async (chassis: string, o: { dir?: string }) => {
        const n = intOption('<chassis>', 1, 200)(chassis);
        const c = await chassisAction(resolveSandboxDir(o.dir), n, action);
        console.log(action === 'kill' ? `chassis-${n} killed (df-controller, ovs-vswitchd, ovsdb-server)` : `chassis-${n} running again: switch up, df-controller pid ${c.pid} connected and in sync`);
      });
  }

  const ctl = sandbox.command('controller').description("stop, start or restart a chassis' df-controller (flows stay in place while it is down); --standby runs a second one as hot standby (docs/ha.md)");
  for (const action of ['stop', 'start', 'restart'] as const) {
    ctl
      .command(`${action} <chassis>`)
      .description(
        action === 'start'
          ? 'start the df-controller of chassis N that is not running (it comes back as standby when the other is master); with --standby, start a second one as hot standby next to the running one'
          : `${action} the df-controller of chassis N — with a standby pair, the master (the one the switch takes orders from); with --standby, the second one`,
      )
      .option('--kill', 'stop it with SIGKILL instead of SIGTERM (a crash)')
      .option('--standby', action === 'start' ? 'start a second df-controller for the chassis as hot standby (OpenFlow slave; takes over within a second when the master dies)' : 'act on the second df-controller of the chassis (started with start --standby)')
      .option('--dir <dir>', DIR_HELP)
      .addHelpText(
        'after',
        action === 'start'
          ? `
Examples:
  pnpm dfctl sandbox controller start 1 --standby   # a hot standby for chassis-1
  pnpm dfctl sandbox controller stop 1 --kill       # kill -9 the master: the standby takes over
  pnpm dfctl sandbox controller start 1             # the killed one comes back, as standby
  pnpm dfctl status                                 # each controller's role and generation`
          : '',
      )
      .action(async (chassis: string, o: { kill?: boolean; standby?: boolean; dir?: string }) => {
        const n = intOption('<chassis>', 1, 200)(chassis);
        const c = await controllerAction(resolveSandboxDir(o.dir), n, action, { signal: o.kill ? 'SIGKILL' : 'SIGTERM', ...(o.standby ? { standby: true } : {}) });
        const which = c.standby ? 'the second df-controller' : 'df-controller';
        if (action === 'stop') console.log(`${which} of chassis-${n} stopped${o.kill ? ' (SIGKILL)' : ''}`);
        else {
          const h = await controllerHealth(c);
          console.log(`${which} of chassis-${n} running (pid ${c.pid}), ${h?.ha ? describeRole(h) : 'connected and in sync'}`);
        }
      });
  }
}
