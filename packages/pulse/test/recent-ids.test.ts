import { randomUUID } from 'node:crypto';
import { RecentIds } from '../src/core/recent-ids';

/** The plain model: an array of the last `capacity` distinct ids added. */
class Model {
  private readonly ids: string[] = [];
  constructor(private readonly capacity: number) {}
  has(id: string): boolean {
    return this.ids.includes(id);
  }
  add(id: string): void {
    if (this.has(id)) return;
    if (this.ids.length === this.capacity) this.ids.shift();
    this.ids.push(id);
  }
}

/** A small seeded generator, so a failure replays. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const seqUuid = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;

describe('RecentIds', () => {
  it('agrees with a plain model over random adds and lookups of UUIDs and other ids', () => {
    for (const capacity of [1, 2, 3, 7, 64]) {
      const next = rng(capacity);
      const recent = new RecentIds(capacity);
      const model = new Model(capacity);
      // A small universe, so ids come back after being forgotten and probe runs wrap and shift.
      const universe = [
        ...Array.from({ length: capacity * 3 }, (_, i) => seqUuid(i)),
        ...Array.from({ length: capacity * 2 }, () => randomUUID()),
        ...Array.from({ length: capacity }, (_, i) => `other-${i}`),
        seqUuid(1).toUpperCase(), // upper case is another id, not the lower-case one's bits
      ];
      for (let step = 0; step < 5000; step++) {
        if (next() < 0.7) {
          const id = universe[Math.floor(next() * universe.length)];
          recent.add(id);
          model.add(id);
        }
        const probe = universe[Math.floor(next() * universe.length)];
        expect([step, probe, recent.has(probe)]).toEqual([step, probe, model.has(probe)]);
      }
      for (const id of universe) expect([id, recent.has(id)]).toEqual([id, model.has(id)]);
    }
  });

  it('keeps exactly the last `capacity` of a long run of ids, at any fill of its table', () => {
    const recent = new RecentIds(1000);
    for (let i = 0; i < 50_000; i++) recent.add(seqUuid(i));
    expect(recent.size).toBe(1000);
    for (let i = 48_990; i < 49_000; i++) expect(recent.has(seqUuid(i))).toBe(false);
    for (let i = 49_000; i < 50_000; i++) expect(recent.has(seqUuid(i))).toBe(true);
  });

  it('tells apart UUIDs that differ in one bit, and UUID-like strings that are not canonical', () => {
    const recent = new RecentIds(10);
    const id = '3f2b8c1e-9d4a-4e5f-8a6b-7c8d9e0f1a2b';
    recent.add(id);
    expect(recent.has(id)).toBe(true);
    expect(recent.has('3f2b8c1e-9d4a-4e5f-8a6b-7c8d9e0f1a2a')).toBe(false);
    expect(recent.has('3f2b8c1e9d4a-4e5f-8a6b-7c8d9e0f1a2b-')).toBe(false);
    expect(recent.has(id.toUpperCase())).toBe(false);
    recent.add(id.toUpperCase());
    expect(recent.has(id.toUpperCase())).toBe(true);
  });

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new RecentIds(0)).toThrow(RangeError);
    expect(() => new RecentIds(1.5)).toThrow(RangeError);
  });
});
