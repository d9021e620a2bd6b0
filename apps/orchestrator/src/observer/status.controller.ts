import { Controller, Get, Header } from '@nestjs/common';
import { PulseObserver } from './pulse-observer.service';

/** GET /status: what the observer has seen, per stream. */
@Controller()
export class StatusController {
  constructor(private readonly observer: PulseObserver) {}

  @Get('status')
  @Header('Cache-Control', 'no-store')
  status() {
    return { service: 'orchestrator', ts: Date.now() / 1000, observer: this.observer.status() };
  }
}
