import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { netnsArgv, run, waitFor } from '@dragonflow/sandbox';
import { type VmCreated } from '../sandbox/lifecycle.js';
import { type NeutronClient } from '../sandbox/neutron.js';

export const SG_APP = '@dragonflow/app-sg';
const PORTS = [8000, 8001] as const;

export interface SecurityDemoContext {
  readonly out: (line: string) => void;
  /** The sandbox directory (the web servers' files go there). */
  readonly dir: string;
  readonly url: string;
  readonly api: NeutronClient;
  /** Runs the openstack CLI against df-api, or undefined when it is not installed (the REST calls are made directly). */
  readonly openstack: ((args: readonly string[]) => Promise<string>) | undefined;
  readonly clientNetns: string;
  readonly serverNetns: string;
  readonly server: VmCreated;
}

export interface SecurityDemoResult {
  /** Before: vm1 reached both of vm3's ports (the default group lets members in). */
  readonly before: Record<(typeof PORTS)[number], boolean>;
  /** After demo-web replaced vm3's groups: reached :8000, refused :8001 and ping. */
  readonly after: Record<(typeof PORTS)[number], boolean> & { readonly ping: boolean };
}

/** One HTTP GET from `netns`: true when vm3's page came back within 3 s. */
async function get(netns: string, ip: string, port: number, out: (l: string) => void): Promise<boolean> {
  const r = await run('curl', ['-s', '--max-time', '3', `http://${ip}:${port}/`], { netns, allowFailure: true });
  const ok = r.code === 0 && r.stdout.includes('hello from vm3');
  out(`  $ curl --max-time 3 http://${ip}:${port}/   → ${ok ? r.stdout.trim() : `no answer (curl exit ${r.code})`}`);
  return ok;
}

/**
 * The demo's security-group step: vm3 serves HTTP on two ports (busybox httpd); vm1
 * reaches both (vm1 and vm3 are in their project's default group, which lets members
 * in); a group `demo-web` allowing only tcp 8000 in replaces vm3's groups; from then
 * on vm1 reaches :8000 and neither :8001 nor ping — enforced in the switch by conntrack.
 */
export async function securityGroupStep(c: SecurityDemoContext): Promise<SecurityDemoResult> {
  const { out, server } = c;
  const www = join(c.dir, 'demo-www');
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, 'index.html'), 'hello from vm3\n');
  const servers: ChildProcess[] = [];
  try {
    for (const port of PORTS) {
      const [bin, argv] = netnsArgv(c.serverNetns, 'busybox', ['httpd', '-f', '-p', `${server.ip}:${port}`, '-h', www]);
      servers.push(spawn(bin, argv, { stdio: 'ignore' }));
    }
    out(`  vm3 serves HTTP on ${PORTS.map((p) => `:${p}`).join(' and ')} (busybox httpd); vm1 and vm3 are in their project's default group, which lets members in:`);
    await waitFor(async () => (await run('ss', ['-ltn'], { netns: c.serverNetns })).stdout.includes(`${server.ip}:${PORTS[1]}`), { what: "vm3's web servers to listen", timeoutMs: 10_000 });
    const before = { 8000: await get(c.clientNetns, server.ip, 8000, out), 8001: await get(c.clientNetns, server.ip, 8001, out) };

    out(`  a group that lets in only tcp 8000 replaces vm3's groups:`);
    if (c.openstack) {
      for (const args of [
        ['security', 'group', 'create', 'demo-web'],
        ['security', 'group', 'rule', 'create', '--ingress', '--protocol', 'tcp', '--dst-port', '8000', 'demo-web'],
        ['port', 'set', '--no-security-group', '--security-group', 'demo-web', server.portId],
      ]) {
        out(`  $ openstack --os-auth-type none --os-endpoint ${c.url} ${args.join(' ')}`);
        await c.openstack(args);
      }
    } else {
      const group = await c.api.createSecurityGroup({ name: 'demo-web' });
      await c.api.createSecurityGroupRule({ security_group_id: group.id, direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 8000, port_range_max: 8000 });
      await c.api.updatePort(server.portId, { security_groups: [group.id] });
    }
    // The port's new flows are in both chassis' switches once :8001 stops answering (then both are tried again).
    await waitFor(async () => !(await run('curl', ['-s', '--max-time', '1', `http://${server.ip}:8001/`], { netns: c.clientNetns, allowFailure: true })).stdout.includes('hello'), {
      what: 'vm3:8001 to be closed by demo-web',
      timeoutMs: 10_000,
      intervalMs: 200,
    }).catch(() => undefined);
    const after8000 = await get(c.clientNetns, server.ip, 8000, out);
    const after8001 = await get(c.clientNetns, server.ip, 8001, out);
    const ping = (await run('ping', ['-c', '2', '-i', '0.3', '-W', '1', server.ip], { netns: c.clientNetns, allowFailure: true })).code === 0;
    out(`  $ ping -c 2 ${server.ip}   → ${ping ? 'answered' : 'no answer (ICMP is not in demo-web)'}`);
    return { before, after: { 8000: after8000, 8001: after8001, ping } };
  } finally {
    for (const s of servers) s.kill();
  }
}

/** True when the step showed what a security group promises. */
export function securityDemoOk(r: SecurityDemoResult): boolean {
  return r.before[8000] && r.before[8001] && r.after[8000] && !r.after[8001] && !r.after.ping;
}
