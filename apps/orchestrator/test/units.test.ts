import { checkBearer } from '../src/control/admin-token';
import { ControlRequest, issuesOf } from '../src/control/control-request';
import { ChangeCoalescer } from '../src/audit/change-coalescer';
import { decodeCursor, encodeCursor } from '../src/audit/audit-store';

describe('checkBearer', () => {
  it('unset token: 403, never open', () => {
    expect(checkBearer(undefined, 'Bearer x')).toMatchObject({ ok: false, status: 403 });
    expect(checkBearer('', undefined)).toMatchObject({ ok: false, status: 403 });
  });
  it('missing, malformed or wrong: 401; the right one passes', () => {
    expect(checkBearer('s3cret', undefined)).toMatchObject({
      ok: false,
      status: 401,
      reason: expect.stringMatching(/missing/),
    });
    expect(checkBearer('s3cret', 'Basic s3cret')).toMatchObject({ ok: false, status: 401 });
    expect(checkBearer('s3cret', 'Bearer s3cre')).toMatchObject({
      ok: false,
      status: 401,
      reason: 'wrong bearer token',
    });
    expect(checkBearer('s3cret', 'Bearer s3cret-and-more')).toMatchObject({
      ok: false,
      status: 401,
    });
    expect(checkBearer('s3cret', 'bearer s3cret')).toEqual({ ok: true });
  });
});

describe('ControlRequest', () => {
  const issues = (body: unknown) => {
    const r = ControlRequest.safeParse(body);
    return r.success ? [] : issuesOf(r.error);
  };
  it('needs a target for pause / resume / reload; derives it for set_scale and replay_dlq', () => {
    expect(issues({ action: 'pause' })).toEqual([
      { path: 'target', message: expect.stringMatching(/^is required/) },
    ]);
    expect(ControlRequest.parse({ action: 'set_scale', provider: 'ibkr', scale: 0.5 }).target).toBe(
      'provider:ibkr',
    );
    expect(ControlRequest.parse({ action: 'replay_dlq', stream: 'md.bars' }).target).toBe(
      'stream:md.bars',
    );
  });
  it('names each bad field by its path', () => {
    expect(issues({ action: 'explode', target: 'x' })).toEqual([
      {
        path: 'action',
        message: 'must be one of pause | resume | reload | set_scale | replay_dlq',
      },
    ]);
    expect(issues({ action: 'set_scale', provider: 'ibkr' })).toEqual([
      { path: 'scale', message: 'is required when action is set_scale' },
    ]);
    expect(issues({ action: 'replay_dlq' })).toEqual([
      { path: 'stream', message: 'is required when action is replay_dlq' },
    ]);
    expect(issues([1])).toEqual([{ path: '(body)', message: 'must be a JSON object' }]);
  });
});

describe('ChangeCoalescer', () => {
  it('one window per key and time window: count, first and last value; redelivered ids counted once', () => {
    const c = new ChangeCoalescer<string>(5000, 'ok');
    expect(c.add({ key: 'bars', value: 'ok', eventId: 'a', ts: 100 })).toBe(false); // the baseline is no change
    expect(c.add({ key: 'bars', value: 'soft', eventId: 'b', ts: 100.1 })).toBe(true);
    expect(c.add({ key: 'bars', value: 'hard', eventId: 'c', ts: 101 })).toBe(true);
    expect(c.add({ key: 'bars', value: 'soft', eventId: 'd', ts: 102 })).toBe(true);
    expect(c.add({ key: 'bars', value: 'soft', eventId: 'd', ts: 102 })).toBe(false);
    expect(c.add({ key: 'opts', value: 'hard', eventId: 'e', ts: 103 })).toBe(true);
    expect(c.take(104_000)).toEqual([]); // the window [100 s, 105 s) is still open
    const rows = c.take(105_000);
    expect(rows.map((w) => [w.key, w.windowStart, w.from, w.to, w.count])).toEqual([
      ['bars', 100_000, 'ok', 'soft', 3],
      ['opts', 100_000, 'ok', 'hard', 1],
    ]);
    c.retain(rows.slice(1));
    expect(c.take(0, true).map((w) => w.key)).toEqual(['opts']);
  });
});

describe('audit cursors', () => {
  it('round-trip, and junk is not a cursor', () => {
    expect(decodeCursor(encodeCursor({ ts: 1795425171.25, seq: 42 }))).toEqual({
      ts: 1795425171.25,
      seq: 42,
    });
    expect(decodeCursor('nonsense')).toBeUndefined();
  });
});
