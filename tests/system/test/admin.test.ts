/**
 * The store's admin endpoints as deployed: without MDS_ADMIN_TOKEN they are disabled (403), never
 * open; with one, a request without it or with another is refused and the right one is let in.
 */
import { describeWithServices } from '@mdp/testing';
import { useSystem } from './support/system';

describeWithServices('the store admin endpoints', () => {
  const newSystem = useSystem();

  it('are disabled without MDS_ADMIN_TOKEN and need the token with one', async () => {
    const s = await newSystem();
    const open = await s.start('store', s.sharedEnv('v1'), 'store-no-token');
    const guarded = await s.start(
      'store',
      { ...s.sharedEnv('v1'), MDS_ADMIN_TOKEN: 'admin-secret', MDS_CONSUMER_NAME: 'store-2' },
      'store-token',
    );
    await open.waitReady();
    await guarded.waitReady();
    const replay = (p: typeof open, headers: Record<string, string> = {}) =>
      p.endpoint.request('/admin/dlq/bars/replay', { method: 'POST', headers });
    const list = (p: typeof open, headers: Record<string, string> = {}) =>
      p.endpoint.request('/admin/dlq', { headers });

    expect((await replay(open)).status).toBe(403);
    expect((await list(open)).status).toBe(403);
    expect((await replay(open, { authorization: 'Bearer anything' })).status).toBe(403);

    expect((await replay(guarded)).status).toBe(401);
    expect((await list(guarded, { authorization: 'Bearer admin-secre' })).status).toBe(401);
    expect((await list(guarded, { authorization: 'Bearer admin-secret' })).status).toBe(200);
  });
});
