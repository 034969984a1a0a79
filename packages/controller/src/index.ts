// Public surface of @dragonflow/controller. Everything not exported here is internal.
export { checkRunnable, controllerConfigSchema, loadControllerConfig, parseControllerConfig, type AppEntry, type ControllerConfig, type DbConfig, type LoadedControllerConfig } from './config.js';
export { Controller, type ControllerOptions, type HealthReport, type HealthStatus } from './daemon.js';
export type { BinderReport, BindingState, PortReport } from './binder.js';
export { GatewayFailover, type GatewayFailoverOptions, type GatewayHolder, type GatewayReport, type GatewaySource } from './gateway-failover.js';
export { ensureSwitch, TUNNEL_MARK, type InfraPorts, type SwitchSetupReport, type SwitchSpec } from './switch-setup.js';
