import type { OxmFieldName } from '@dragonflow/openflow';
import type { Stage } from './stages.js';

/** What happens to a packet no flow of the table matches (the core installs it). */
export type MissBehaviour = 'next' | 'drop' | 'controller';

/** A named table an app (or the core) declares inside a stage. */
export interface TableSpec {
  /** Unique within its app; the table's full name is `<app>.<name>`. */
  readonly name: string;
  /**
   * The match fields flows in this table may use (Faucet-style). A flow matching
   * any other field is refused when it is handed to the core, so a wrong flow fails
   * in a unit test instead of on a switch. Omit to allow every field.
   */
  readonly match?: readonly OxmFieldName[];
  /** Default 'next': continue to the next table of the chain. */
  readonly miss?: MissBehaviour;
  readonly description?: string;
}

/** A table with its number. */
export interface AllocatedTable {
  readonly id: number;
  readonly stage: Stage;
  readonly app: string;
  readonly name: string;
  /** `<app>.<name>`. */
  readonly qualifiedName: string;
  readonly miss: MissBehaviour;
  /** The table a 'next' miss continues to; null for the last table. */
  readonly next: number | null;
  /** Declared match fields, or undefined when any field is allowed. */
  readonly match?: ReadonlySet<string>;
  readonly description?: string;
}
