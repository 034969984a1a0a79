import type { Chassis, LogicalPort } from '@dragonflow/nb';
import type { BindingState } from '../neutron/views.js';
import type { Backend } from '../services/backend.js';

/** What a chassis record says about its switch (the controller writes these external ids). */
function boundTo(c: Chassis): BindingState {
  return { chassis: c.name, bridge: c.externalIds['integration-bridge'] ?? 'br-int', datapathType: c.externalIds['datapath-type'] ?? 'system' };
}

/**
 * The chassis `host` names: the one of that name, else the only one whose hostname
 * it is (Nova sends its compute host's name, which a chassis may not be called).
 */
export async function chassisForHost(nb: Backend['nb'], host: string): Promise<Chassis | undefined> {
  const [byName] = await nb.lookup('chassis', 'name', host);
  if (byName) return byName;
  const byHost = await nb.list('chassis', (c) => c.externalIds['hostname'] === host);
  return byHost.length === 1 ? byHost[0] : undefined;
}

/**
 * How a port's binding looks to Nova: bound (to the chassis it is plugged on, or
 * the one binding:host_id names), failed (binding:host_id names no chassis: Nova
 * sees binding_failed and stops the boot) or unbound.
 */
export async function bindingOf(nb: Backend['nb'], p: LogicalPort): Promise<BindingState> {
  if (p.chassisId !== null) {
    const c = await nb.get('chassis', p.chassisId);
    return c ? boundTo(c) : { chassis: p.bindingHost, bridge: 'br-int', datapathType: 'system' };
  }
  if (p.bindingHost === '') return 'unbound';
  const c = await chassisForHost(nb, p.bindingHost);
  return c ? boundTo(c) : 'failed';
}
