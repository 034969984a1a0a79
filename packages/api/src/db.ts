import { openNbDb, type OpenNbDbOptions, type OpenedDb as OpenedNbDb } from '@dragonflow/db';
import { NbApi } from '@dragonflow/nb';
import type { ApiConfig } from './config.js';

/** The northbound DB df-api writes to, as opened from its config. */
export interface OpenedDb extends OpenedNbDb {
  readonly nb: NbApi;
}

/**
 * Opens the configured DB (as every process does: `openNbDb`, which serves a memory
 * DB with db.grants, socketMode, tls and the frame/connection caps) and loads NbApi's view.
 */
export async function openDb(db: ApiConfig['db'], onPeerClosed?: OpenNbDbOptions['onPeerClosed']): Promise<OpenedDb> {
  const opened = await openNbDb(db, onPeerClosed ? { onPeerClosed } : {});
  let nb: NbApi;
  try {
    nb = await NbApi.open(opened.driver);
  } catch (e) {
    await opened.close();
    throw e;
  }
  return {
    ...opened,
    nb,
    async close() {
      await nb.close();
      await opened.close();
    },
  };
}
