import {
  Inject,
  Injectable,
  Module,
  OnApplicationShutdown,
  OnModuleInit,
  Optional,
} from '@nestjs/common';
import { EVENT_BUS, Logger } from '@mdp/service-kit';
import type { EventBus } from '@mdp/pulse';
import type { StoreEnv } from '../config/store-config';
import { FeedbackEmitter } from '../feedback/feedback-emitter';
import { HttpFeedbackBroadcaster } from '../feedback/http-broadcaster';
import { pulseFeedbackPublisher } from '../feedback/pulse-feedback-publisher';
import { SERVICE_CONFIG, SERVICE_LOGGER } from '@mdp/service-kit';

/** Connects the in-process feedback bus to Pulse (`<ns>.telemetry.feedback`) and the optional webhook. */
@Injectable()
export class FeedbackFanout implements OnModuleInit, OnApplicationShutdown {
  private broadcaster?: HttpFeedbackBroadcaster;
  private readonly unsubscribers: Array<() => void> = [];

  constructor(
    private readonly feedback: FeedbackEmitter,
    @Inject(SERVICE_CONFIG) private readonly env: StoreEnv,
    @Inject(SERVICE_LOGGER) private readonly log: Logger,
    @Optional() @Inject(EVENT_BUS) private readonly bus?: EventBus,
  ) {}

  onModuleInit(): void {
    if (!this.env.MDS_FB_ENABLE_FEEDBACK) return;
    // Refreshes repeat the level every few hundred milliseconds: logged at debug, changes at info.
    this.unsubscribers.push(
      this.feedback.subscribe((e) =>
        e.reason === 'refresh'
          ? this.log.debug({ feedback: e }, `backpressure ${e.level} (refresh)`)
          : this.log.info({ feedback: e }, `backpressure ${e.level}`),
      ),
    );
    if (this.bus)
      this.unsubscribers.push(
        this.feedback.subscribe(
          pulseFeedbackPublisher(this.bus, this.env.SCHEMA_TRACK, this.env.PULSE_WIRE),
        ),
      );
    if (this.env.MDS_FB_ENABLE_HTTP_BROADCAST && this.env.MDS_FB_HTTP_ENDPOINT) {
      this.broadcaster = new HttpFeedbackBroadcaster({
        endpoint: this.env.MDS_FB_HTTP_ENDPOINT,
        timeoutMs: this.env.MDS_FB_HTTP_TIMEOUT * 1000,
        maxRetries: this.env.MDS_FB_HTTP_MAX_RETRIES,
        backoffMs: this.env.MDS_FB_HTTP_BACKOFF * 1000,
        log: this.log,
      });
      this.unsubscribers.push(this.feedback.subscribe(this.broadcaster.send));
    }
  }

  async onApplicationShutdown(): Promise<void> {
    for (const off of this.unsubscribers.splice(0)) off();
    await this.broadcaster?.stop();
  }
}

@Module({
  providers: [
    {
      provide: FeedbackEmitter,
      inject: [SERVICE_LOGGER],
      useFactory: (log: Logger) => new FeedbackEmitter(log),
    },
    FeedbackFanout,
  ],
  exports: [FeedbackEmitter],
})
export class FeedbackModule {}
