import l2 from '@dragonflow/app-l2';
import proactive from '@dragonflow/app-l3-proactive';
import reactive from '@dragonflow/app-l3-reactive';
import { startRoutedDataplane, type DataplaneOptions, type RoutedDataplane } from '@dragonflow/l3/dataplane';

export type L3Mode = 'proactive' | 'reactive';

/**
 * What the dataplane benchmarks measure on: one sandbox chassis (userspace
 * datapath), vm1 10.0.1.11 (net1) and vm2 10.0.2.12 (net2) behind the router, and
 * the controller runtime with `@dragonflow/app-l2` and the L3 app of `mode` — or
 * the app set given.
 */
export function startOneChassisRouted(apps: L3Mode | DataplaneOptions['apps']): Promise<RoutedDataplane> {
  return startRoutedDataplane({
    chassis: 1,
    vms: [
      { name: 'vm1', network: 'net1', host: 11, chassis: 1 },
      { name: 'vm2', network: 'net2', host: 12, chassis: 1 },
    ],
    apps: typeof apps !== 'string' ? apps : [{ package: '@dragonflow/app-l2', descriptor: l2 }, apps === 'reactive' ? { package: '@dragonflow/app-l3-reactive', descriptor: reactive } : { package: '@dragonflow/app-l3-proactive', descriptor: proactive }],
  });
}
