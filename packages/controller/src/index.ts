// Public surface of @dragonflow/controller. Everything not exported here is internal.
export { checkRunnable, controllerConfigSchema, loadControllerConfig, parseControllerConfig, type AppEntry, type ControllerConfig, type DbConfig, type LoadedControllerConfig } from './config.js';
export { Controller, type ControllerOptions, type HealthReport, type HealthStatus } from './daemon.js';
export { PortBinder, type BinderReport, type BinderRuntime, type BindingState, type PortBinderOptions, type PortReport } from './binder.js';
export { ManagementServer, parseManagementListen } from './management.js';
export { ControllerMetrics } from './metrics.js';
export { controllerLogger } from './logger.js';
export { controllerTargetFor, ensureSwitch, infraPortsFrom, providerPatchName, TUNNEL_MARK, tunnelPortName, type InfraPorts, type SwitchSetupReport, type SwitchSpec } from './switch-setup.js';
