import { pino, type Logger } from 'pino';

export type { Logger };

/** A logger that writes nothing (the default for library use and tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
