import { DfError, isDfError } from '@dragonflow/base';
import { NbErrorCode } from '@dragonflow/nb';

const TRANSIENT = /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|Connection is closed|max retries|Stream isn't writeable|LOADING|connect ETIMEDOUT|socket|write after end|Command timed out/i;

/** Maps an ioredis error to the driver contract's codes. */
export function mapRedisError(err: unknown, endpoint: string, what: string): DfError {
  if (isDfError(err)) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (TRANSIENT.test(msg)) {
    return new DfError(NbErrorCode.UNAVAILABLE, `redis at ${endpoint} is unavailable during ${what}: ${msg}`, { cause: err, context: { endpoint } });
  }
  return new DfError('NB_DRIVER', `redis ${what} failed: ${msg}`, { cause: err, context: { endpoint } });
}
