import { decode, BarV1, NewsV1, newsIdSource, OptionSnapV2 } from '../src';
import { SAMPLES } from './samples';

describe('market data', () => {
  it('accepts a flat bar (open = high = low = close) and a zero-volume bar', () => {
    expect(
      decode(BarV1, { ...SAMPLES['md.Bar'].v1, open: 10, high: 10, low: 10, close: 10, volume: 0 })
        .ok,
    ).toBe(true);
  });

  it('derives the same news id source for a replayed item, and different ones for different items', () => {
    const item = {
      published_at: 1704103200.75,
      title: 'Apple ships a thing',
      url: 'https://example.com/a',
    };
    expect(newsIdSource(item)).toBe('1704103200|https://example.com/a');
    expect(newsIdSource({ ...item, published_at: 1704103200.1 })).toBe(newsIdSource(item));
    expect(newsIdSource({ ...item, url: undefined })).toBe('1704103200|Apple ships a thing');
    expect(newsIdSource({ ...item, url: 'https://example.com/b' })).not.toBe(newsIdSource(item));
  });

  it('news without a provider id is rejected, so no row is keyed on a random id', () => {
    const { id: _id, ...noId } = SAMPLES['md.News'].v1;
    const r = decode(NewsV1, noId);
    expect(!r.ok && r.error.message).toBe('id: is required');
  });

  it('option expiry is a calendar date, not an instant', () => {
    const base = SAMPLES['md.OptionSnap'].v2;
    expect(decode(OptionSnapV2, { ...base, expiry: '2024-02-29' }).ok).toBe(true);
    for (const expiry of ['2023-02-29', '2024-06-21T00:00:00Z', '21/06/2024']) {
      const r = decode(OptionSnapV2, { ...base, expiry });
      expect(!r.ok && r.error.message).toBe('expiry: must be a date YYYY-MM-DD');
    }
  });
});
