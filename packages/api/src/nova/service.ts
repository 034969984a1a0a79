import type { NbDriver } from '@dragonflow/nb';
import type { KeystoneClient } from '../keystone/client.js';
import { type NotifierLog, NovaNotifier, type NovaSettings } from './notifier.js';
import { NovaPortWatcher } from './watch.js';

/** The Nova notifier of a df-api: port changes in the NB DB become events posted to Nova. */
export interface NovaNotification {
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts following the ports and notifying Nova; fails when no Nova endpoint is known. */
export async function startNovaNotification(settings: NovaSettings, driver: NbDriver, keystone: KeystoneClient | undefined, log: NotifierLog): Promise<NovaNotification> {
  const notifier = new NovaNotifier(settings, keystone, log);
  const watcher = new NovaPortWatcher(driver, (events) => notifier.enqueue(events));
  await watcher.start();
  log.info({ url: notifier.url }, `notifying Nova of port events at ${notifier.url}`);
  return {
    url: notifier.url,
    async stop() {
      await watcher.stop();
      await notifier.close();
    },
  };
}
