/**
 * Addresses that transactions of this df-api process are about to commit, per
 * network. Concurrent port creates skip each other's picks, so within one process
 * they do not collide on the same "first free" address and retry; across processes
 * NbApi's IP claims still decide (the loser retries).
 */
export class IpReservations {
  private readonly held = new Map<string, Set<string>>();

  has(networkId: string, ip: string): boolean {
    return this.held.get(networkId)?.has(ip) ?? false;
  }

  add(networkId: string, ip: string): void {
    let set = this.held.get(networkId);
    if (!set) this.held.set(networkId, (set = new Set()));
    set.add(ip);
  }

  delete(networkId: string, ip: string): void {
    const set = this.held.get(networkId);
    if (!set) return;
    set.delete(ip);
    if (set.size === 0) this.held.delete(networkId);
  }

  /** Number of reserved addresses (for tests). */
  get size(): number {
    let n = 0;
    for (const s of this.held.values()) n += s.size;
    return n;
  }
}

/**
 * One run of a request's transaction: its number (a run after a lost race spreads
 * its choices) and the addresses it reserved, released when the run ends.
 */
export class Attempt {
  private readonly mine: { networkId: string; ip: string }[] = [];

  constructor(
    readonly n: number,
    private readonly registry: IpReservations = new IpReservations(),
  ) {}

  /** True when another in-flight transaction of this process is about to take the address. */
  reservedByOthers(networkId: string, ip: string): boolean {
    return this.registry.has(networkId, ip) && !this.mine.some((m) => m.networkId === networkId && m.ip === ip);
  }

  reserve(networkId: string, ip: string): void {
    if (this.registry.has(networkId, ip)) return;
    this.registry.add(networkId, ip);
    this.mine.push({ networkId, ip });
  }

  get holds(): boolean {
    return this.mine.length > 0;
  }

  release(): void {
    for (const m of this.mine.splice(0)) this.registry.delete(m.networkId, m.ip);
  }
}
