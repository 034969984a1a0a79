export { DRIVER_KINDS, describeDb, etcdOptions, isFatalDbError, openNbDb, redisOptions, unixPath, type DbSection, type DriverKind, type OpenedDb } from './open.js';
