// Public surface of @dragonflow/api (df-api). Everything not exported here is internal.

export { type ApiConfig, type ApiConfigInput, apiConfigSchema, loadApiConfig, parseApiConfig, parseApiConfigText } from './config.js';
export { type ApiServerHandle, type BuildOptions, type StartOptions, buildApiServer, startApiServer, toNeutronError } from './server.js';
export { type OpenedDb, openDb } from './db.js';
export { type RequestContext, authenticate } from './auth.js';
export { NeutronError } from './neutron/errors.js';
export { EXTENSIONS } from './resources/discovery.js';
export { defaultGroupRules, defaultSecurityGroupId } from './services/default-sg.js';
