import { randomBytes } from 'node:crypto';
import type { NbTransaction } from '@dragonflow/nb';
import { MacAddress } from '@dragonflow/base';
import { NeutronError, badAttribute, macAddressInUse } from '../neutron/errors.js';

/** A random MAC under `prefix` (1 to 5 leading octets, e.g. Neutron's fa:16:3e). */
export function randomMac(prefix: string): string {
  const head = prefix.split(':');
  const tail = [...randomBytes(6 - head.length)].map((b) => b.toString(16).padStart(2, '0'));
  return [...head, ...tail].join(':');
}

/**
 * Picks a MAC for a new port on `networkId`: the requested one (checked and unique on
 * the network) or a random free one. NbApi's MAC claim makes it unique under
 * concurrency.
 */
export async function chooseMac(tx: NbTransaction, networkId: string, prefix: string, requested: string | undefined): Promise<string> {
  if (requested !== undefined) {
    if (!MacAddress.isValid(requested)) throw badAttribute('mac_address', `'${requested}' is not a valid MAC address`);
    const mac = MacAddress.parse(requested);
    if (mac.isMulticast || mac.value === 0n) throw badAttribute('mac_address', `'${requested}' is not a valid unicast MAC address`);
    const text = mac.toString();
    if ((await tx.lookup('logical_port', 'mac', `${networkId}/${text}`)).length > 0) throw macAddressInUse(networkId, text);
    return text;
  }
  for (let i = 0; i < 16; i++) {
    const mac = randomMac(prefix);
    if ((await tx.lookup('logical_port', 'mac', `${networkId}/${mac}`)).length === 0) return mac;
  }
  throw new NeutronError(503, 'MacAddressGenerationFailure', `Unable to generate unique mac on network ${networkId}.`);
}
