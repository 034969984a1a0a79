export { Chassis, type ChassisOptions } from './chassis.js';
export { listLeftovers, listSandboxes, removeLeftovers, type LeftoverNetns, type Leftovers } from './leftovers.js';
export { CHASSIS_DEVICES, EXTERNAL, FABRIC_DEVICES, SANDBOX_PREFIX, tapName } from './names.js';
export { Outside } from './outside.js';
export { netnsPids, removeNetns } from './netns-procs.js';
export { Sandbox, type ChassisStatus, type SandboxOptions, type SandboxStatus, type VmStatus } from './sandbox.js';
export { STATE_FILE, readState, type RegistryEntry, type ChassisState, type FabricState, type OutsideState, type ProviderState, type SandboxState, type VmState } from './state.js';
export { Vm, type VmOptions } from './vm.js';
export { VM_ADDRESSING, readLease, type DhcpLease, type VmAddressing } from './dhcp-client.js';
