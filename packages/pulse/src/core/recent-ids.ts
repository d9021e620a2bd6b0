/**
 * The last `capacity` ids added, first in first out, answering "seen?" exactly.
 *
 * Why not an LRU of the id strings: at 20 000 messages/s every remembered id string outlives a
 * young-generation collection or two (copied, then promoted), about 0.5 MB a collection, which
 * doubled the consumer's scavenge pauses and with them its latency tail. Here a canonical UUID in
 * lower case (what both wire layouts carry) is kept as its 128 bits in typed arrays, indexed by an
 * open-addressing table, so remembering it allocates nothing. Any other id (the wire allows any
 * string) is kept as the string itself in a Set beside it.
 *
 * First in first out rather than least recently used: the memory is a dedup window over what was
 * handled, and adding an id already remembered does not move it.
 */
const EMPTY = 0;

export class RecentIds {
  /** Four 32-bit words of each slot's UUID. */
  private readonly words: Int32Array;
  private readonly hashes: Int32Array;
  /** Slot of a non-UUID id: its string (the slot's words are unused). */
  private readonly strings: Array<string | undefined>;
  private readonly others = new Set<string>();
  /** Open addressing, linear probing: slot + 1, or EMPTY. */
  private readonly index: Int32Array;
  private readonly mask: number;
  private next = 0;
  private filled = 0;
  /** The parsed words of the id `has`/`add` last looked at (no tuple allocated per call). */
  private readonly w = new Int32Array(4);

  constructor(readonly capacity: number) {
    if (!(capacity >= 1) || !Number.isInteger(capacity))
      throw new RangeError(`capacity must be an integer >= 1, got ${capacity}`);
    this.words = new Int32Array(capacity * 4);
    this.hashes = new Int32Array(capacity);
    this.strings = new Array<string | undefined>(capacity).fill(undefined);
    let size = 2;
    while (size < capacity * 2) size *= 2;
    this.index = new Int32Array(size);
    this.mask = size - 1;
  }

  get size(): number {
    return this.filled;
  }

  has(id: string): boolean {
    if (!this.parse(id)) return this.others.has(id);
    return this.find(hashWords(this.w)) >= 0;
  }

  /** Remembers `id`; when full, forgets the oldest. */
  add(id: string): void {
    const uuid = this.parse(id);
    const hash = uuid ? hashWords(this.w) : 0;
    if (uuid ? this.find(hash) >= 0 : this.others.has(id)) return;
    const slot = this.next;
    if (this.filled === this.capacity) this.forget(slot);
    else this.filled++;
    this.next = slot + 1 === this.capacity ? 0 : slot + 1;
    if (!uuid) {
      this.strings[slot] = id;
      this.others.add(id);
      return;
    }
    this.words.set(this.w, slot * 4);
    this.hashes[slot] = hash;
    let i = hash & this.mask;
    while (this.index[i] !== EMPTY) i = (i + 1) & this.mask;
    this.index[i] = slot + 1;
  }

  /** Index position of the UUID in `this.w`, or -1. */
  private find(hash: number): number {
    const { index, words, w, mask } = this;
    for (let i = hash & mask; index[i] !== EMPTY; i = (i + 1) & mask) {
      const slot = index[i] - 1;
      const at = slot * 4;
      if (
        this.hashes[slot] === hash &&
        words[at] === w[0] &&
        words[at + 1] === w[1] &&
        words[at + 2] === w[2] &&
        words[at + 3] === w[3]
      )
        return i;
    }
    return -1;
  }

  private forget(slot: number): void {
    const other = this.strings[slot];
    if (other !== undefined) {
      this.others.delete(other);
      this.strings[slot] = undefined;
      return;
    }
    const { index, mask } = this;
    let i = this.hashes[slot] & mask;
    while (index[i] !== slot + 1) i = (i + 1) & mask;
    // Backward-shift deletion: later entries of the probe run move into the hole when their home
    // position is not between the hole and where they sit, so lookups never stop short.
    for (let j = (i + 1) & mask; index[j] !== EMPTY; j = (j + 1) & mask) {
      const home = this.hashes[index[j] - 1] & mask;
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (!stays) {
        index[i] = index[j];
        i = j;
      }
    }
    index[i] = EMPTY;
  }

  /** Parses a lower-case canonical UUID into `this.w`; false for anything else. */
  private parse(id: string): boolean {
    if (id.length !== 36) return false;
    const w = this.w;
    let word = 0;
    let digits = 0;
    for (let i = 0; i < 36; i++) {
      const c = id.charCodeAt(i);
      if (i === 8 || i === 13 || i === 18 || i === 23) {
        if (c !== 45) return false; // '-'
        continue;
      }
      let v: number;
      if (c >= 48 && c <= 57) v = c - 48;
      else if (c >= 97 && c <= 102) v = c - 87;
      else return false;
      word = (word << 4) | v;
      if (++digits % 8 === 0) {
        w[digits / 8 - 1] = word;
        word = 0;
      }
    }
    return true;
  }
}

/** murmur3's finaliser over the four words: ids that differ in a few bits land far apart. */
function hashWords(w: Int32Array): number {
  let h =
    w[0] ^ Math.imul(w[1], 0x9e3779b1) ^ Math.imul(w[2], 0x85ebca6b) ^ Math.imul(w[3], 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}
