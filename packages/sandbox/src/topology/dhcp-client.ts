import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DfError } from '@dragonflow/base';
import { requireBinary, run } from '../exec.js';
import { isAlive, stopPid } from '../process.js';

/** How a sandbox VM gets its address: configured by the sandbox, or by a real DHCP client in the VM. */
export type VmAddressing = 'static' | 'dhclient' | 'udhcpc';
export const VM_ADDRESSING: readonly VmAddressing[] = ['static', 'dhclient', 'udhcpc'];

/** What the VM's DHCP client was given, as its script recorded it (the kernel's state is the proof; this is for reports). */
export interface DhcpLease {
  readonly event: string;
  readonly ip: string;
  readonly mask: string;
  readonly routers: string;
  readonly dns: string;
  readonly mtu: string;
  /** `dest/len gw` pairs from option 121, space separated. */
  readonly routes: string;
  readonly domain: string;
}

/**
 * The script both clients run on every lease event: it configures eth0 in the VM's
 * namespace (address, MTU, option 121 routes or the router as default route) and
 * writes the DNS servers to the VM's own resolv.conf under the sandbox directory —
 * never the host's. Both clients run it with their own variables and events.
 */
function leaseScript(dir: string, device: string, client: Exclude<VmAddressing, 'static'>): string {
  return `#!/bin/sh
# Written by dfctl sandbox: applies a DHCP lease to ${device} inside this VM's namespace.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
DIR='${dir}'
DEV='${device}'
CLIENT='${client}'
if [ "$CLIENT" = udhcpc ]; then
  event=$1; addr=$ip; mask=$subnet; routers=$router; nameservers=$dns; mtu_v=$mtu; dom=$domain; routes=$staticroutes
  case $event in bound|renew) action=apply ;; deconfig|leasefail|nak) action=flush ;; *) action=none ;; esac
else
  event=$reason; addr=$new_ip_address; mask=$new_subnet_mask; routers=$new_routers; nameservers=$new_domain_name_servers
  mtu_v=$new_interface_mtu; dom=$new_domain_name; routes=
  # dhclient hands option 121 over as bytes: len, the significant octets of the destination, the router.
  set -- $new_rfc3442_classless_static_routes
  while [ $# -ge 5 ]; do
    len=$1; shift
    if [ "$len" -eq 0 ]; then d=0.0.0.0
    elif [ "$len" -le 8 ]; then d=$1.0.0.0; shift
    elif [ "$len" -le 16 ]; then d=$1.$2.0.0; shift 2
    elif [ "$len" -le 24 ]; then d=$1.$2.$3.0; shift 3
    else d=$1.$2.$3.$4; shift 4; fi
    routes="$routes $d/$len $1.$2.$3.$4"; shift 4
  done
  case $event in BOUND|RENEW|REBIND|REBOOT) action=apply ;; EXPIRE|FAIL|RELEASE|STOP) action=flush ;; PREINIT) ip link set dev "$DEV" up; action=none ;; *) action=none ;; esac
fi
echo "$(date +%s.%N) $CLIENT $event $addr" >> "$DIR/dhcp-events.log"
if [ "$action" = flush ]; then ip -4 addr flush dev "$DEV"; exit 0; fi
[ "$action" = apply ] || exit 0
ip link set dev "$DEV" up
[ -n "$mtu_v" ] && ip link set dev "$DEV" mtu "$mtu_v"
ip -4 addr replace "$addr/$mask" dev "$DEV"
ip -4 route flush dev "$DEV" scope global
if [ -n "$routes" ]; then
  set -- $routes
  while [ $# -ge 2 ]; do
    if [ "$1" = 0.0.0.0/0 ]; then ip -4 route replace default via "$2" dev "$DEV"; else ip -4 route replace "$1" via "$2" dev "$DEV"; fi
    shift 2
  done
elif [ -n "$routers" ]; then
  set -- $routers
  ip -4 route replace default via "$1" dev "$DEV"
fi
{ for s in $nameservers; do echo "nameserver $s"; done; [ -n "$dom" ] && echo "search $dom"; } > "$DIR/resolv.conf"
cat > "$DIR/lease.env" <<LEASE
event=$event
ip=$addr
mask=$mask
routers=$routers
dns=$nameservers
mtu=$mtu_v
routes=$(echo $routes)
domain=$dom
LEASE
exit 0
`;
}

/** dhclient's own configuration: ask for what the sandbox applies, declare option 121, retry quickly. */
const DHCLIENT_CONF = `option rfc3442-classless-static-routes code 121 = array of unsigned integer 8;
request subnet-mask, broadcast-address, routers, domain-name-servers, domain-name, host-name, interface-mtu, rfc3442-classless-static-routes;
timeout 30;
retry 10;
initial-interval 1;
`;

export interface DhcpClientFiles {
  readonly dir: string;
  readonly script: string;
  readonly pidFile: string;
  readonly log: string;
}

export function dhcpClientFiles(vmDir: string): DhcpClientFiles {
  return { dir: vmDir, script: join(vmDir, 'dhcp-script'), pidFile: join(vmDir, 'dhcp-client.pid'), log: join(vmDir, 'dhcp-client.log') };
}

/**
 * Runs the VM's DHCP client in its namespace until it has a lease (then the client
 * stays as a daemon for renewals, until the VM goes). Rejects with the client's own
 * output when no lease came within the client's timeout.
 */
export async function startDhcpClient(netns: string, device: string, vmDir: string, client: Exclude<VmAddressing, 'static'>, hostname: string): Promise<DhcpLease> {
  mkdirSync(vmDir, { recursive: true, mode: 0o700 });
  const f = dhcpClientFiles(vmDir);
  writeFileSync(f.script, leaseScript(vmDir, device, client), { mode: 0o700 });
  let argv: string[];
  if (client === 'dhclient') {
    const conf = join(vmDir, 'dhclient.conf');
    writeFileSync(conf, DHCLIENT_CONF, { mode: 0o600 });
    argv = [requireBinary('dhclient'), '-1', '-v', '-cf', conf, '-sf', f.script, '-pf', f.pidFile, '-lf', join(vmDir, 'dhclient.leases'), device];
  } else {
    argv = [requireBinary('busybox'), 'udhcpc', '-i', device, '-s', f.script, '-p', f.pidFile, '-n', '-t', '10', '-T', '1', '-O', 'mtu', '-O', 'staticroutes', '-x', `hostname:${hostname}`];
  }
  // The client forks a daemon once it has a lease; its output goes to a file so the
  // daemon holds no pipe of ours open.
  const quoted = argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const r = await run('sh', ['-c', `exec ${quoted} >>'${f.log}' 2>&1`], { netns, timeoutMs: 60_000, allowFailure: true });
  const lease = readLease(vmDir);
  if (r.code !== 0 || !lease) {
    const out = existsSync(f.log) ? readFileSync(f.log, 'utf8').trim().split('\n').slice(-8).join('\n') : '';
    throw new DfError('SANDBOX_DHCP_FAILED', `${client} in ${netns} got no lease (exit ${r.code}); its output:\n${out}`, { context: { netns, client } });
  }
  return lease;
}

/** The lease the VM's client script recorded last, if any. */
export function readLease(vmDir: string): DhcpLease | undefined {
  const file = join(vmDir, 'lease.env');
  if (!existsSync(file)) return undefined;
  const kv = Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  const s = (k: string): string => kv[k] ?? '';
  return { event: s('event'), ip: s('ip'), mask: s('mask'), routers: s('routers'), dns: s('dns'), mtu: s('mtu'), routes: s('routes'), domain: s('domain') };
}

/** The pid of the VM's DHCP client daemon, when it runs. */
export function dhcpClientPid(vmDir: string): number | undefined {
  const file = dhcpClientFiles(vmDir).pidFile;
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
}

/** Stops the VM's DHCP client daemon (its address stays configured). */
export async function stopDhcpClient(vmDir: string): Promise<void> {
  const pid = dhcpClientPid(vmDir);
  if (pid) await stopPid(pid, 2000);
}
