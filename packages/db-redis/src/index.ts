export { RedisDriver, type RedisDriverOptions } from './driver.js';
export { mapRedisError } from './errors.js';
