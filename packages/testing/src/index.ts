export { FakeSwitch, type CookieDescriber, type FakeSwitchOptions, type FakeSwitchStats } from './fakeswitch/fake-switch.js';
export { PacketState, type TunnelInfo } from './fakeswitch/packet-state.js';
export { TraceResult, type TraceHop, type TraceOutput, type TracePacketIn } from './fakeswitch/trace.js';
export type { FlowEntry } from './fakeswitch/flow-table.js';
export { Harness, startHarness, type HarnessApp, type HarnessOptions } from './harness/harness.js';
