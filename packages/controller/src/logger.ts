import type { Logger } from '@dragonflow/core';
import { pino, type DestinationStream } from 'pino';

/** Structured JSON logs (pino), one line per event, to stdout unless told otherwise. */
export function controllerLogger(level: string, chassis: string, destination?: DestinationStream): Logger {
  return pino({ level, base: { pid: process.pid, chassis }, timestamp: pino.stdTimeFunctions.isoTime }, destination ?? pino.destination({ fd: 1, sync: true }));
}
