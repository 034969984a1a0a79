import { run, type RunResult } from '../exec.js';
import { addAddress, createNetns, createVethPair } from '../netns.js';
import { EXTERNAL, FABRIC_DEVICES, outsideNetns } from './names.js';
import type { FabricState, OutsideState } from './state.js';

/** The outside world's state, planned before anything is made (so teardown can find it). */
export function planOutside(tag: string): OutsideState {
  return {
    netns: outsideNetns(tag),
    device: 'eth0',
    fabricPort: FABRIC_DEVICES.outsidePort,
    routerIp: `${EXTERNAL.routerIp}/${EXTERNAL.cidr.split('/')[1]}`,
    internetDevice: 'inet0',
    internetIp: `${EXTERNAL.internetIp}/${EXTERNAL.internetCidr.split('/')[1]}`,
  };
}

/**
 * Builds the outside namespace: eth0 on the public segment (its peer enslaved to the
 * fabric's public switch) holding the upstream router's address, and a second interface
 * holding the internet host's address. The namespace forwards (it is the router), and
 * as the host it answers for both addresses itself: a packet from a VM to the internet
 * host arrives at the router's MAC and is delivered locally.
 */
export async function buildOutside(o: OutsideState, fabric: FabricState): Promise<void> {
  await createNetns(o.netns);
  await run('ip', ['link', 'set', 'lo', 'up'], { netns: o.netns });
  await run('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1'], { netns: o.netns });
  await createVethPair({ name: o.device, netns: o.netns }, { name: o.fabricPort, netns: fabric.netns });
  await run('ip', ['link', 'set', o.fabricPort, 'master', fabric.publicSwitch!], { netns: fabric.netns });
  await addAddress(o.device, o.routerIp, o.netns);
  // As in the VMs: a veth hands out TCP/UDP with the checksum left to offload, which the
  // userspace datapath forwards as is, so the receiver would drop it (docs/sandbox-dataplane.md).
  await run('ethtool', ['-K', o.device, 'tx', 'off'], { netns: o.netns });
  // A veth whose peer stays in the namespace too (no dummy driver without kernel modules).
  await createVethPair({ name: o.internetDevice, netns: o.netns }, { name: `${o.internetDevice}p`, netns: o.netns });
  await addAddress(o.internetDevice, o.internetIp, o.netns);
}

/** The outside namespace of a sandbox made with an external network. */
export class Outside {
  constructor(readonly state: OutsideState) {}

  get netns(): string {
    return this.state.netns;
  }

  /** Runs a command in the outside namespace. */
  exec(cmd: string, args: readonly string[], options: { timeoutMs?: number; allowFailure?: boolean } = {}): Promise<RunResult> {
    return run(cmd, args, { netns: this.state.netns, ...options });
  }
}
