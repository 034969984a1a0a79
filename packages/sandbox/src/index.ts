export { netnsArgv, requireBinary, run, type RunOptions, type RunResult } from './exec.js';
export { isAlive, sleep, spawnDaemon, stopPid, waitFor, type DaemonOptions, type WaitOptions } from './process.js';
export { freePort, makeTempDir, removeDir, shortId } from './tmp.js';
export { CleanupStack } from './cleanup.js';
export { addAddress, createNetns, createVethPair, deleteLink, deleteNetns, linkExists, listNetns, netnsExec, netnsExists, ping, type VethEnd } from './netns.js';
export { OvsInstance, startOvs, type OvsOptions, type OvsPids } from './ovs.js';
export { EtcdServer, startEtcd, type EtcdOptions } from './etcd.js';
export { RedisServer, startRedis, type RedisOptions } from './redis.js';
export * from './topology/index.js';
