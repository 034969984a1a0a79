export { EtcdDriver, type EtcdDriverOptions } from './driver.js';
export { EtcdKeys, prefixEnd } from './keys.js';
export { mapEtcdError } from './errors.js';
