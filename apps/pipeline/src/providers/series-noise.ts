/**
 * Deterministic noise over an integer index (a bar number): every value is a hash of (seed, series,
 * index), so it can be computed for any index directly, in any order, in any process.
 */

/** murmur3's 32-bit finaliser: a good avalanche for hashing small integers. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a of a string. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const SQRT3 = Math.sqrt(3);

/**
 * Multi-scale value noise: `levels` layers; layer k has a random knot every 2^k indexes (uniform with
 * unit variance) scaled by sqrt(2^k), linearly interpolated. Summed, consecutive values differ by
 * about 2 (standard deviation) and the series wanders like a random walk up to 2^(levels-1) steps.
 * The knots of the current segment of each layer are cached, so walking forward costs little.
 */
export class SeriesNoise {
  private readonly key: number;
  private readonly knotAt: Float64Array;
  private readonly left: Float64Array;
  private readonly right: Float64Array;

  constructor(
    seed: number,
    series: string,
    private readonly levels: number,
  ) {
    this.key = fmix32((seed >>> 0) ^ fmix32(hashString(series)));
    this.knotAt = new Float64Array(levels).fill(NaN);
    this.left = new Float64Array(levels);
    this.right = new Float64Array(levels);
  }

  /** Uniform in [0, 1) for (index, salt). */
  uniform(index: number, salt: number): number {
    return this.hash(index, salt + 1000) / 4294967296;
  }

  /** The noise value at `index`. */
  at(index: number): number {
    let sum = 0;
    for (let k = 0; k < this.levels; k++) {
      const span = 2 ** k;
      const knot = Math.floor(index / span);
      if (this.knotAt[k] !== knot) {
        this.knotAt[k] = knot;
        this.left[k] = this.knot(k, knot);
        this.right[k] = this.knot(k, knot + 1);
      }
      const f = (index - knot * span) / span;
      sum += Math.sqrt(span) * (this.left[k] + (this.right[k] - this.left[k]) * f);
    }
    return sum;
  }

  /** Knot `i` of layer `level`: uniform on [-sqrt 3, sqrt 3) (unit variance). */
  private knot(level: number, i: number): number {
    return ((this.hash(i, level) / 4294967296) * 2 - 1) * SQRT3;
  }

  private hash(index: number, salt: number): number {
    // Index split into two 32-bit halves so indexes beyond 2^32 (1 s bars far ahead) stay distinct.
    const lo = index >>> 0;
    const hi = Math.floor(index / 4294967296) >>> 0;
    return fmix32(fmix32(fmix32(this.key ^ Math.imul(salt + 1, 0x9e3779b9)) ^ lo) ^ hi);
  }
}
