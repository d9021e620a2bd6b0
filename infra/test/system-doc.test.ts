/**
 * docs/system.md is generated from the code (infra/scripts/system-doc.ts); this fails when either moved
 * without the other, and when the stream catalogue disagrees with the names the services use.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { catalogueEntry, SERVICES, STREAM_CATALOGUE, STREAMS } from '@mdp/contracts';
import { sharedEnvShape } from '@mdp/service-kit';
import { OBSERVED_STREAMS, OBSERVER_GROUP } from '@mdp/orchestrator/dist/observer/observed-streams';
// The modules that name the groups, not the packages' entry points (which start or load a whole service).
import { FEEDBACK_GROUP } from '@mdp/pipeline/dist/feedback/feedback-consumer';
import { MD_STREAMS, STORE_GROUP } from '@mdp/store/dist/ingest/stream-ingest';
import {
  renderSystemDoc,
  SERVICE_INFO,
  SHARED_ENV_MEANING,
  SYSTEM_DOC,
} from '../scripts/system-doc';

describe('docs/system.md', () => {
  it('is what infra/scripts/system-doc.ts generates from the code (run `pnpm docs:system` after a change)', () => {
    expect(readFileSync(SYSTEM_DOC, 'utf8')).toBe(renderSystemDoc());
  });

  it('describes every shared variable and every service', () => {
    expect(Object.keys(SHARED_ENV_MEANING).sort()).toEqual(Object.keys(sharedEnvShape).sort());
    expect(Object.keys(SERVICE_INFO).sort()).toEqual([...SERVICES].sort());
  });

  it('names the port variables the launcher reads', () => {
    const launcher = readFileSync(join(__dirname, '..', 'scripts', 'start.mjs'), 'utf8');
    for (const { portVar, port } of Object.values(SERVICE_INFO))
      expect(launcher).toContain(`portVar: '${portVar}', defaultPort: ${port}`);
  });
});

describe('the stream catalogue agrees with the services', () => {
  const groupsOf = (stream: string) =>
    catalogueEntry(stream)?.groups.map((g) => `${g.service}:${g.name}`) ?? [];

  it('store: ingests every md stream in its group and publishes feedback', () => {
    for (const stream of Object.values(MD_STREAMS))
      expect(groupsOf(stream)).toContain(`store:${STORE_GROUP}`);
    expect(catalogueEntry(STREAMS.feedback)).toMatchObject({
      schemaIds: ['telemetry.FeedbackEvent'],
      publishers: expect.arrayContaining(['store']),
    });
  });

  it('pipeline: reads feedback and control in its groups, publishes rate adjustments and audit entries', () => {
    expect(groupsOf(STREAMS.feedback)).toContain(`pipeline:${FEEDBACK_GROUP}`);
    expect(groupsOf(STREAMS.control)).toContain('pipeline:pipeline');
    expect(catalogueEntry(STREAMS.rateAdjustment)?.publishers).toContain('pipeline');
    expect(catalogueEntry(STREAMS.audit)?.publishers).toContain('pipeline');
  });

  it('orchestrator: observes its streams in its group, with the schema the catalogue names', () => {
    for (const { stream, schemaId } of OBSERVED_STREAMS) {
      expect(groupsOf(stream)).toContain(`orchestrator:${OBSERVER_GROUP}`);
      expect(catalogueEntry(stream)?.schemaIds).toContain(schemaId);
    }
  });

  it('heartbeats: every service publishes them', () => {
    expect(catalogueEntry(STREAMS.health)?.publishers).toEqual(
      expect.arrayContaining([...SERVICES]),
    );
  });

  it('control: every group the orchestrator inspects on control.actions is in the catalogue', () => {
    expect(groupsOf(STREAMS.control)).toEqual(
      expect.arrayContaining(['pipeline:pipeline', 'store:store']),
    );
  });

  it('lists each stream once, and every named stream', () => {
    const names = STREAM_CATALOGUE.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual(Object.values(STREAMS).sort());
  });
});
