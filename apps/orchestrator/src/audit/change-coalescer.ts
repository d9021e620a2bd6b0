/** One observed change of a keyed value (a coordinator's level, a provider's scale). */
export interface Change<V> {
  key: string;
  value: V;
  /** Source envelope id: a redelivered event is counted once. */
  eventId: string;
  /** Event time, epoch seconds: decides the window, so a redelivery lands in the window it first did. */
  ts: number;
  /** Extra context of the latest change, kept on the row. */
  context?: Record<string, string>;
}

/** All changes of one key within one window: becomes one audit row. */
export interface CoalescedChange<V> {
  key: string;
  /** Window start, epoch milliseconds; with the key, the row's idempotency key. */
  windowStart: number;
  windowMs: number;
  from: V | undefined;
  to: V;
  count: number;
  /** ts of the latest change. */
  lastTs: number;
  context: Record<string, string>;
}

/**
 * Under overload the store may change level many times a second; auditing each change would flood the
 * trail. Changes are grouped per key into fixed windows of the event time: each window gives one row
 * with the count and the last value, written once the window has closed. Nothing is dropped: a window
 * whose row cannot be written stays until it can (`retain`).
 */
export class ChangeCoalescer<V> {
  private readonly last = new Map<string, V>();
  private readonly open = new Map<string, CoalescedChange<V> & { ids: Set<string> }>();

  constructor(
    readonly windowMs: number,
    /** A first value equal to the baseline is not a change (e.g. level ok, scale 1). */
    private readonly baseline: V,
    private readonly maxKeys = 1024,
  ) {}

  /** Records `change` if the value differs from the key's last one; returns whether it counted. */
  add(change: Change<V>): boolean {
    const previous = this.last.has(change.key) ? this.last.get(change.key) : this.baseline;
    if (previous === change.value) return false;
    this.remember(change.key, change.value);
    const windowStart = Math.floor((change.ts * 1000) / this.windowMs) * this.windowMs;
    const id = `${change.key}\u0000${windowStart}`;
    let w = this.open.get(id);
    if (!w) {
      w = {
        key: change.key,
        windowStart,
        windowMs: this.windowMs,
        from: previous,
        to: change.value,
        count: 0,
        lastTs: change.ts,
        context: {},
        ids: new Set(),
      };
      this.open.set(id, w);
    }
    if (w.ids.has(change.eventId)) return false;
    w.ids.add(change.eventId);
    w.count += 1;
    if (change.ts >= w.lastTs) {
      w.to = change.value;
      w.lastTs = change.ts;
      w.context = { ...(change.context ?? {}) };
    }
    return true;
  }

  /** Takes the windows closed at `nowMs` (all of them with `all`), oldest first. */
  take(nowMs: number, all = false): CoalescedChange<V>[] {
    const done: CoalescedChange<V>[] = [];
    for (const [id, w] of this.open) {
      if (!all && w.windowStart + w.windowMs > nowMs) continue;
      this.open.delete(id);
      const { ids: _ids, ...row } = w;
      done.push(row);
    }
    return done.sort((a, b) => a.windowStart - b.windowStart);
  }

  /** Puts back windows whose rows could not be written, to be tried again. */
  retain(windows: CoalescedChange<V>[]): void {
    for (const w of windows) {
      const id = `${w.key}\u0000${w.windowStart}`;
      if (!this.open.has(id)) this.open.set(id, { ...w, ids: new Set() });
    }
  }

  get pending(): number {
    return this.open.size;
  }

  private remember(key: string, value: V): void {
    this.last.delete(key);
    this.last.set(key, value);
    if (this.last.size > this.maxKeys) this.last.delete(this.last.keys().next().value as string);
  }
}
