import { HeldBatches, type HeldBatch } from '../src/core/delivery';

const batch = (physical: string): HeldBatch => ({ physical, deliveries: [], open: 1 });

describe('HeldBatches', () => {
  it('lists what was added and not deleted, from any position, and counts it', () => {
    const held = new HeldBatches();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(batch);
    for (const x of [a, b, c, d]) held.add(x);
    expect(held.size).toBe(4);
    held.delete(c); // middle
    held.delete(d); // head (the newest)
    held.delete(a); // tail (the oldest)
    expect([...held].map((x) => x.physical)).toEqual(['b']);
    expect(held.size).toBe(1);
    held.delete(b);
    expect([...held]).toEqual([]);
    expect(held.size).toBe(0);
  });

  it('leaves a deleted batch with no links, and ignores deleting one that is not held', () => {
    const held = new HeldBatches();
    const [a, b, c] = ['a', 'b', 'c'].map(batch);
    for (const x of [a, b, c]) held.add(x);
    held.delete(b);
    expect(b.prev).toBeUndefined();
    expect(b.next).toBeUndefined();
    held.delete(b); // twice
    held.delete(batch('never added'));
    expect([...held].map((x) => x.physical)).toEqual(['c', 'a']);
    expect(held.size).toBe(2);
  });
});
