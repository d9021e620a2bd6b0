import {
  auditEntry,
  controlResult,
  decodePayload,
  toControlCommand,
  CONTROL_ACTIONS,
  type ControlActionV2,
} from '../src';

const setScale = {
  action: 'set_scale',
  ts: 1729234567,
  target: 'pipeline',
  provider: 'ibkr',
  scale: 0.25,
  correlation_id: 'req-9',
};

function decoded(track: 'v1' | 'v2', data: unknown): ControlActionV2 {
  const r = decodePayload<ControlActionV2>('control.ControlAction', track, data);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

describe('control actions across tracks', () => {
  it('lists the Python core v1 actions and v2 set_scale', () => {
    expect(CONTROL_ACTIONS.v1).toEqual(['pause', 'resume', 'reload']);
    expect(CONTROL_ACTIONS.v2).toEqual(['pause', 'resume', 'reload', 'set_scale']);
  });

  it('a v1 reader parses a v2 set_scale message, then refuses to perform it with a clear error', () => {
    const msg = decoded('v1', setScale);
    expect(msg).toEqual({ action: 'set_scale', ts: 1729234567, target: 'pipeline' });
    const cmd = toControlCommand(msg, { accept: 'v1' });
    expect(cmd.ok).toBe(false);
    if (cmd.ok) return;
    expect(cmd.error.code).toBe('unsupported_action');
    expect(cmd.error.message).toBe(
      'action: unsupported control action "set_scale" (this reader performs pause | resume | reload)',
    );
  });

  it('a v2 reader performs set_scale', () => {
    expect(toControlCommand(decoded('v2', setScale))).toEqual({
      ok: true,
      value: {
        action: 'set_scale',
        ts: 1729234567,
        target: 'pipeline',
        provider: 'ibkr',
        scale: 0.25,
      },
    });
  });

  it('set_scale whose fields a v1 decode stripped is invalid for a v2 performer, not silently applied', () => {
    const cmd = toControlCommand(decoded('v1', setScale));
    expect(!cmd.ok && cmd.error.code).toBe('invalid');
    expect(!cmd.ok && cmd.error.message).toBe(
      'provider: is required when action is set_scale; scale: is required when action is set_scale',
    );
  });

  it.each(['pause', 'resume', 'reload'])('%s is performed by readers of both tracks', (action) => {
    for (const track of ['v1', 'v2'] as const) {
      const r = toControlCommand(decoded(track, { action, ts: 5 }), { accept: track });
      expect(r).toEqual({ ok: true, value: { action, ts: 5 } });
    }
  });

  it('an action from a future track parses on both tracks and is unsupported everywhere', () => {
    for (const track of ['v1', 'v2'] as const) {
      const msg = decoded(track, { action: 'drain', ts: 1 });
      const r = toControlCommand(msg, { accept: track });
      expect(!r.ok && r.error.code).toBe('unsupported_action');
    }
  });
});

describe('ControlResult and audit entries in the core v1 terms', () => {
  it('controlResult keeps status in the core vocabulary and agreeing with the outcome', () => {
    expect(controlResult('accepted', 'queued')).toEqual({
      status: 'ok',
      detail: 'queued',
      outcome: 'accepted',
    });
    expect(controlResult('rejected').status).toBe('error');
    expect(controlResult('error').status).toBe('error');
    expect(controlResult('ok').detail).toBeNull();
  });

  it('a v2 result whose status contradicts its outcome is invalid', () => {
    const r = decodePayload('control.ControlResult', 'v2', { status: 'ok', outcome: 'rejected' });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toBe('status: must be error when outcome is rejected');
  });

  it('auditEntry puts verbs the core cannot name in operation, and action in the core enum', () => {
    for (const [operation, action] of [
      ['pause', 'pause'],
      ['resume', 'resume'],
      ['reload', 'reload'],
      ['set_scale', 'reload'],
      ['replay_dlq', 'reload'],
    ] as const) {
      const entry = auditEntry({
        actor: 'pipeline-1',
        role: 'pipeline',
        operation,
        result: controlResult('ok'),
        ts: 1,
      });
      expect(entry).toMatchObject({ action, operation });
      const v1 = decodePayload('telemetry.AuditEnvelope', 'v1', entry);
      expect(v1).toEqual({
        ok: true,
        value: {
          actor: 'pipeline-1',
          role: 'pipeline',
          action,
          result: { status: 'ok', detail: null },
          ts: 1,
        },
      });
    }
  });
});
