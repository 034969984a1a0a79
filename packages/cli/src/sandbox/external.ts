import { DfError } from '@dragonflow/base';
import { EXTERNAL } from '@dragonflow/sandbox';

/** What `up --external` records in the services file. */
export interface ExternalState {
  /** Chassis (1-based) registered as gateways. */
  readonly gatewayChassis: readonly number[];
}

/**
 * The gateway chassis of `up --external [--gateway-chassis N,M]`: the ones given, each
 * 1..chassis, else the last chassis; --gateway-chassis without --external is refused
 * (a gateway needs the external network).
 */
export function gatewayChassisFor(chassis: number, external: boolean, given: readonly number[] | undefined): readonly number[] {
  if (!external) {
    if (given && given.length > 0) throw new DfError('BAD_OPTION', '--gateway-chassis needs --external: a gateway chassis reaches the outside through the external network', { context: { option: 'gateway-chassis' } });
    return [];
  }
  if (!given || given.length === 0) return [chassis];
  const bad = given.filter((g) => !Number.isInteger(g) || g < 1 || g > chassis);
  if (bad.length > 0) throw new DfError('BAD_OPTION', `--gateway-chassis ${bad.join(',')}: the sandbox has chassis 1..${chassis}`, { context: { option: 'gateway-chassis', chassis } });
  return [...new Set(given)].sort((a, b) => a - b);
}

/** The access lines of the external network (printed by `up` and `status`). */
export function externalAccessLines(apiUrl: string, outsideNetns: string, ext: ExternalState): string[] {
  const os = `openstack --os-auth-type none --os-endpoint ${apiUrl}`;
  return [
    `  outside                netns ${outsideNetns}: upstream router ${EXTERNAL.routerIp} on the flat provider network '${EXTERNAL.physnet}', internet host ${EXTERNAL.internetIp} beyond it`,
    `    run     pnpm dfctl sandbox outside -- ping -c 3 <a floating IP>`,
    `    gateway chassis ${ext.gatewayChassis.map((g) => `chassis-${g}`).join(', ')}; every chassis has the bridge mapping ${EXTERNAL.physnet}:${EXTERNAL.bridge}`,
    `    ${os} network create ${EXTERNAL.physnet} --external --provider-network-type flat --provider-physical-network ${EXTERNAL.physnet}`,
    `    ${os} subnet create --network ${EXTERNAL.physnet} --subnet-range ${EXTERNAL.cidr} --gateway ${EXTERNAL.routerIp} --no-dhcp ${EXTERNAL.physnet}-subnet`,
  ];
}
