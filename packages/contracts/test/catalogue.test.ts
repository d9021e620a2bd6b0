import { catalogueEntry, isSchemaId, SERVICES, STREAM_CATALOGUE } from '../src';

describe('stream catalogue', () => {
  it('lists each logical stream once, with registered schema ids and known services', () => {
    const names = STREAM_CATALOGUE.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    for (const s of STREAM_CATALOGUE) {
      expect(s.name).toMatch(/^(md|telemetry|control)\.[a-z_]+$/);
      expect(s.schemaIds.length).toBeGreaterThan(0);
      for (const id of s.schemaIds) expect(isSchemaId(id)).toBe(true);
      for (const p of s.publishers) expect(SERVICES).toContain(p);
      for (const g of s.groups) expect(SERVICES).toContain(g.service);
    }
  });

  it('finds an entry by logical name', () => {
    expect(catalogueEntry('md.bars')?.schemaIds).toEqual(['md.Bar']);
    expect(catalogueEntry('md.nope')).toBeUndefined();
  });
});
