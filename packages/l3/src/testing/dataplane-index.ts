export { DATAPLANE_ROUTER_MACS, chassisDir, startRoutedDataplane, type DataplaneChassis, type DataplaneOptions, type RoutedDataplane, type VmSpec } from './dataplane.js';
