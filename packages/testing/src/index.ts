export { FakeSwitch, type Connection, type CookieDescriber, type FakeSwitchOptions, type FakeSwitchStats, type MeterCounters } from './fakeswitch/fake-switch.js';
export { PacketState, type CtMetadata, type CtTuple, type TunnelInfo } from './fakeswitch/packet-state.js';
export { TraceResult, type TraceHop, type TraceOutput, type TracePacketIn } from './fakeswitch/trace.js';
export type { FlowEntry } from './fakeswitch/flow-table.js';
export type { FakeConnection } from './fakeswitch/connection.js';
export { NO_GENERATION_ID, OFPBRC_IS_SLAVE, OFPRRFC_STALE } from './fakeswitch/roles.js';
export { Harness, startHarness, type HarnessApp, type HarnessOptions } from './harness/harness.js';
// What an app's own tests need from the host side: check its descriptor and options
// the way the controller does, load it by package name, read the switch's requests.
export { loadApps, requestMessage, validateApps, type AppCandidate, type LoadedApp } from '@dragonflow/core/host';
// A stand-in for Nova's external-events endpoint, checking each request against Nova's API reference.
export { RecordingNova, novaEventsRequestProblem, type RecordedRequest } from './nova/recording-nova.js';
