/**
 * DI tokens apps inject (always with an explicit `@inject(TOKEN)`). Each app's
 * child container resolves them to that app's own instances.
 */
export const APP_CONTEXT = Symbol.for('dragonflow.AppContext');
export const APP_FLOWS = Symbol.for('dragonflow.AppFlows');
export const APP_TABLES = Symbol.for('dragonflow.AppTables');
export const APP_OPTIONS = Symbol.for('dragonflow.AppOptions');
export const TOPOLOGY = Symbol.for('dragonflow.Topology');
export const CLOCK = Symbol.for('dragonflow.Clock');
export const LOGGER = Symbol.for('dragonflow.Logger');
export const PIPELINE = Symbol.for('dragonflow.Pipeline');
