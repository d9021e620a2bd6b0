import { z } from 'zod';
import { EpochSeconds, NonEmptyString } from '../primitives';

const sentiment = z
  .number({ error: 'must be a number' })
  .min(-1, { error: 'must be >= -1' })
  .max(1, { error: 'must be <= 1' });

/**
 * One news item; the natural key is (provider, id). `id` is required and must be stable across
 * replays: the provider's article id, or, when the provider has none, one derived from content (see
 * `newsIdSource`). Unlike the original store (whose key used a fresh random id), replaying the same
 * item therefore conflicts and updates instead of inserting a duplicate.
 */
export const NewsV1 = z.object({
  provider: NonEmptyString,
  id: NonEmptyString,
  published_at: EpochSeconds,
  title: NonEmptyString,
  /** Main ticker the item is about, if any. */
  symbol: NonEmptyString.optional(),
  url: z.url({ error: 'must be a URL' }).optional(),
  sentiment_score: sentiment.optional(),
});

export const NewsV2 = NewsV1.extend({
  summary: z.string({ error: 'must be a string' }).optional(),
  /** Publisher as named by the provider, e.g. `Reuters`. */
  source: z.string({ error: 'must be a string' }).optional(),
  author: z.string({ error: 'must be a string' }).optional(),
  /** Every ticker the item mentions (`symbol` stays the main one for v1 readers). */
  symbols: z.array(NonEmptyString).optional(),
});

export type NewsV1 = z.infer<typeof NewsV1>;
export type NewsV2 = z.infer<typeof NewsV2>;
export type News = NewsV2;

/**
 * The text a producer hashes when the provider gives no article id:
 * `id = "sha256:" + hex(sha256(newsIdSource(item)))`. Whole seconds of `published_at` plus the URL
 * (or the title when there is no URL): the same article replayed gives the same id.
 */
export function newsIdSource(item: Pick<NewsV1, 'published_at' | 'title' | 'url'>): string {
  return `${Math.trunc(item.published_at)}|${item.url ?? item.title}`;
}
