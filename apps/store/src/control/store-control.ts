import type { ControlAction } from '@mdp/contracts';
import type { PulseBus } from '@mdp/pulse';
import {
  ControlActionConsumer,
  type ControlConsumerOptions,
  type PerformedAction,
} from '@mdp/service-kit';
import { MD_STREAMS, type StreamIngest } from '../ingest/stream-ingest';

export const STORE_ROLE = 'store';
const STREAM_TARGET = 'stream:';

/**
 * Orchestrator control for the store: `pause` / `resume` of stream ingest (target `store` or the
 * consumer name) and `replay_dlq` of a stream's dead letters back onto it (target `stream:<name>`).
 * Anything else is answered `rejected` with the reason.
 */
export class StoreControl extends ControlActionConsumer {
  constructor(
    bus: PulseBus,
    private readonly ingest: StreamIngest,
    opts: ControlConsumerOptions,
  ) {
    super(bus, STORE_ROLE, opts);
  }

  protected override aimsAt(target: string): boolean {
    return target.startsWith(STREAM_TARGET);
  }

  protected async perform(msg: ControlAction): Promise<PerformedAction> {
    const target = msg.target ?? STORE_ROLE;
    const stream = target.startsWith(STREAM_TARGET)
      ? target.slice(STREAM_TARGET.length)
      : undefined;
    switch (msg.action) {
      case 'pause':
      case 'resume':
        if (stream !== undefined)
          return {
            result: 'rejected',
            detail: `${msg.action} acts on the whole store ingest: target "${STORE_ROLE}", not a stream`,
            target,
          };
        if (msg.action === 'pause') {
          await this.ingest.suspend();
          return {
            result: 'ok',
            detail: `ingest paused (${Object.values(MD_STREAMS).join(', ')}); unread entries wait on the streams`,
            target,
          };
        }
        return {
          result: 'ok',
          detail: this.ingest.resume()
            ? 'ingest resumed'
            : 'pause lifted (ingest is not running: disabled, or the store is still starting)',
          target,
        };
      case 'replay_dlq': {
        if (stream === undefined)
          return { result: 'rejected', detail: 'replay_dlq needs target "stream:<name>"', target };
        const replayed = await (this.bus as PulseBus).replayDeadLetters(stream, () => true);
        return {
          result: 'ok',
          detail: `replayed ${replayed} dead letter${replayed === 1 ? '' : 's'} of ${this.bus.streamName(stream)}.dlq onto ${this.bus.streamName(stream)}`,
          target,
        };
      }
      default:
        return {
          result: 'rejected',
          detail: `the store does not perform "${msg.action}" (it performs pause | resume | replay_dlq)`,
          target,
        };
    }
  }
}
