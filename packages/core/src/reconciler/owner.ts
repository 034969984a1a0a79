/** Who desires a set of flows: an app (by name and cookie slot) and one of its owners. */
export interface OwnerId {
  readonly app: string;
  readonly slot: number;
  /** `port:<id>`, `network:<id>`, … */
  readonly owner: string;
  /** The owner kind in the cookie's bits 55–48 (OWNER_KINDS: 0 = the tag is a hash of the owner text). */
  readonly kind: number;
  /** The owner tag in the cookie's low 32 bits. */
  readonly tag: number;
}

/** One owner: its id (kept flat, one object per owner), its cookie, the keys of its flows and the ids of its groups and meters. */
export class OwnerRecord implements OwnerId {
  app: string;
  slot: number;
  owner: string;
  kind: number;
  tag: number;
  keys: string[] = [];
  /** App-local ids of its groups. */
  groups: readonly number[] = [];
  /** App-local ids of its meters. */
  meters: readonly number[] = [];

  constructor(
    id: OwnerId,
    public cookie: bigint,
  ) {
    this.app = id.app;
    this.slot = id.slot;
    // app owner texts are often template literals (ropes): keep one flat copy per owner
    this.owner = [id.owner, ''].join('');
    this.kind = id.kind;
    this.tag = id.tag;
  }

  get id(): OwnerId {
    return this;
  }

  /** The owner now names another object key (or slot): its flows get the new cookie. */
  rename(id: OwnerId, cookie: bigint): void {
    this.slot = id.slot;
    this.kind = id.kind;
    this.tag = id.tag;
    this.cookie = cookie;
  }

  /** Whether it desires nothing any more. */
  get empty(): boolean {
    return this.keys.length === 0 && this.groups.length === 0 && this.meters.length === 0;
  }
}

/** `app NUL owner`, one flat string (a template literal would be a rope kept with every owner). */
export function ownerKeyOf(app: string, owner: string): string {
  return [app, owner].join('\u0000');
}
