// Hand-written OpenFlow rules that stand in for the controller in the dataplane proofs.
// They are installed with ovs-ofctl; one VM per chassis, so in_port is enough to steer.
import type { Chassis, Vm } from '@dragonflow/sandbox';

export const TEST_COOKIE = '0x5a5a';

/** Removes every flow from br-int (the bridge is fail_mode=secure: nothing passes after this). */
export async function clearIntegrationFlows(chassis: Chassis): Promise<void> {
  await chassis.ofctl('del-flows', chassis.state.integrationBridge);
}

/**
 * VM → tunnel: set the VNI and the peer's tunnel IP, output to the flow-based port.
 * Tunnel → VM: match the ingress port and the VNI.
 */
export async function installTunnelFlows(chassis: Chassis, vm: Vm, tunnelPort: string, vni: number, remoteTunnelIp: string): Promise<void> {
  const vmPort = await vm.ofport();
  const tunPort = await chassis.ofport(tunnelPort);
  const br = chassis.state.integrationBridge;
  await chassis.ofctl('add-flow', br, `cookie=${TEST_COOKIE},table=0,priority=100,in_port=${vmPort},actions=set_field:${vni}->tun_id,set_field:${remoteTunnelIp}->tun_dst,output:${tunPort}`);
  await chassis.ofctl('add-flow', br, `cookie=${TEST_COOKIE},table=0,priority=100,in_port=${tunPort},tun_id=${vni},actions=output:${vmPort}`);
}

/** VM → provider: push an 802.1Q tag and leave through the patch port; back: pop it. */
export async function installVlanFlows(chassis: Chassis, vm: Vm, vlan: number): Promise<void> {
  const provider = chassis.state.provider;
  if (!provider) throw new Error(`${chassis.name} has no provider bridge`);
  const vmPort = await vm.ofport();
  const patch = await chassis.ofport(provider.patchOnIntegration);
  const br = chassis.state.integrationBridge;
  await chassis.ofctl('add-flow', br, `cookie=${TEST_COOKIE},table=0,priority=100,in_port=${vmPort},actions=push_vlan:0x8100,set_field:${0x1000 | vlan}->vlan_vid,output:${patch}`);
  await chassis.ofctl('add-flow', br, `cookie=${TEST_COOKIE},table=0,priority=100,in_port=${patch},dl_vlan=${vlan},actions=pop_vlan,output:${vmPort}`);
}

/** A flat provider network: no tag either way. */
export async function installFlatFlows(chassis: Chassis, vm: Vm): Promise<void> {
  const provider = chassis.state.provider;
  if (!provider) throw new Error(`${chassis.name} has no provider bridge`);
  const vmPort = await vm.ofport();
  const patch = await chassis.ofport(provider.patchOnIntegration);
  const br = chassis.state.integrationBridge;
  await chassis.ofctl('add-flow', br, `cookie=${TEST_COOKIE},table=0,priority=100,in_port=${vmPort},actions=output:${patch}`);
  await chassis.ofctl('add-flow', br, `cookie=${TEST_COOKIE},table=0,priority=100,in_port=${patch},vlan_tci=0x0000/0x1fff,actions=output:${vmPort}`);
}
