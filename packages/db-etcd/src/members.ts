import { ConsecutiveBreaker, type IPolicy, circuitBreaker, handleWhen } from 'cockatiel';
import { GRPCUnavailableError } from 'etcd3';

/**
 * The policy etcd3 runs each call to one member under. The client picks a member at
 * random per call; once a call to a member finds it unreachable (GRPC UNAVAILABLE:
 * refused, reset — a killed member), its circuit opens and the client passes over it
 * to the others for `skipMs`, then lets one call try it again. So while a member is
 * down, calls stop landing on it one time in three.
 *
 * Only UNAVAILABLE opens it: a missed deadline says the cluster is slow or between
 * leaders, which the other members are too, and opening every member's circuit then
 * would fail calls that a retry could complete.
 */
export function memberPolicy(skipMs: number): IPolicy {
  return circuitBreaker(
    handleWhen((e) => e instanceof GRPCUnavailableError),
    { halfOpenAfter: skipMs, breaker: new ConsecutiveBreaker(1) },
  );
}
