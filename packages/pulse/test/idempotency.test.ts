import { MemoryIdempotencyStore } from '../src';

describe('MemoryIdempotencyStore', () => {
  it('answers seen only for marked ids', () => {
    const store = new MemoryIdempotencyStore(10);
    store.mark('a');
    expect(store.seen(['a', 'b'])).toEqual([true, false]);
  });

  it('remembers exactly the last `max` marked ids (first marked, first forgotten)', () => {
    const max = 100;
    const store = new MemoryIdempotencyStore(max);
    const ids = Array.from({ length: 1000 }, (_, i) => `id-${i}`);
    for (let n = 0; n < ids.length; n++) {
      store.mark(ids[n]);
      const recent = ids.slice(Math.max(0, n + 1 - max), n + 1);
      expect(store.seen(recent).every(Boolean)).toBe(true);
    }
    // The memory is bounded: everything older than the last `max` is forgotten.
    expect(store.seen(ids).filter(Boolean).length).toBe(max);
    expect(store.seen(ids.slice(0, ids.length - max)).some(Boolean)).toBe(false);
  });

  it('marking an id twice does not push others out', () => {
    const store = new MemoryIdempotencyStore(3);
    store.mark('a');
    store.mark('b');
    for (let i = 0; i < 10; i++) store.mark('b');
    expect(store.seen(['a', 'b'])).toEqual([true, true]);
  });

  it('rejects a size below 1', () => {
    expect(() => new MemoryIdempotencyStore(0)).toThrow(RangeError);
  });
});
