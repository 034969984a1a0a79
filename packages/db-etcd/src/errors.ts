import { DfError, isDfError } from '@dragonflow/base';
import { NbErrorCode } from '@dragonflow/nb';

const TRANSIENT = /unavailable|deadline|ECONNREFUSED|ECONNRESET|EPIPE|circuit|No connection established|connection (closed|lost|reset)|socket|Stream removed|GOAWAY|Connection dropped|14 UNAVAILABLE|4 DEADLINE|1 CANCELLED|cancelled/i;

/** Maps an etcd3/grpc error to the driver contract's codes. */
export function mapEtcdError(err: unknown, endpoint: string, what: string): DfError {
  if (isDfError(err)) return err;
  const name = err instanceof Error ? err.constructor.name : '';
  const msg = err instanceof Error ? err.message : String(err);
  if (name === 'EtcdLeaseInvalidError' || /lease not found/i.test(msg)) {
    return new DfError(NbErrorCode.LEASE_EXPIRED, `lease has expired or was revoked (${msg})`, { cause: err });
  }
  if (/duplicate key/i.test(msg)) return new DfError(NbErrorCode.INVALID, `etcd refused the transaction: ${msg}`, { cause: err });
  if (/required revision has been compacted|mvcc: required revision/i.test(msg)) {
    return new DfError(NbErrorCode.COMPACTED, `etcd history was compacted: ${msg}`, { cause: err });
  }
  if (name === 'ClientClosedError') return new DfError(NbErrorCode.CLOSED, `etcd client is closed`, { cause: err });
  if (TRANSIENT.test(msg) || /GRPCUnavailable|GRPCDeadline|GRPCCancelled|BrokenCircuit|GRPCConnectFailed/.test(name)) {
    return new DfError(NbErrorCode.UNAVAILABLE, `etcd at ${endpoint} is unavailable during ${what}: ${msg}`, { cause: err, context: { endpoint } });
  }
  return new DfError('NB_DRIVER', `etcd ${what} failed: ${msg}`, { cause: err, context: { endpoint } });
}
