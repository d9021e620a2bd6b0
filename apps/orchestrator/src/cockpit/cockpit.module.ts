import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BeforeApplicationShutdown,
  Controller,
  DynamicModule,
  Get,
  Header,
  Injectable,
  Module,
  Req,
  Res,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuditTrail } from '../audit/audit-trail';
import { DeadLetterAudit } from '../audit/dead-letter-audit';
import { ClusterView } from '../cluster/cluster-view';
import { PulseObserver } from '../observer/pulse-observer.service';
import { CockpitFeed } from './cockpit-feed';

/** The page and its script live next to the package (not compiled): `cockpit/` in src and dist alike. */
const PAGE_DIR = join(__dirname, '..', '..', 'cockpit');
const ASSETS: Record<string, { file: () => string; type: string }> = {
  'app.js': { file: () => join(PAGE_DIR, 'app.js'), type: 'text/javascript; charset=utf-8' },
  'cockpit.css': { file: () => join(PAGE_DIR, 'cockpit.css'), type: 'text/css; charset=utf-8' },
  // uPlot (MIT, from the npm registry): a 50 kB time-series chart, served from its package as is.
  'uplot.js': {
    file: () => require.resolve('uplot/dist/uPlot.iife.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
  'uplot.css': {
    file: () => require.resolve('uplot/dist/uPlot.min.css'),
    type: 'text/css; charset=utf-8',
  },
};

const cache = new Map<string, string>();
function asset(name: string): string {
  let body = cache.get(name);
  if (body === undefined)
    cache.set(
      name,
      (body = readFileSync(
        name === 'index.html' ? join(PAGE_DIR, 'index.html') : ASSETS[name].file(),
        'utf8',
      )),
    );
  return body;
}

/** GET / (the cockpit), its assets under /cockpit/, GET /cockpit/snapshot and GET /events (server-sent events). */
@Controller()
export class CockpitController {
  constructor(private readonly feed: CockpitFeed) {}

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  page(): string {
    return asset('index.html');
  }

  @Get('cockpit/snapshot')
  @Header('Cache-Control', 'no-store')
  snapshot() {
    return this.feed.snapshot();
  }

  @Get('cockpit/:asset')
  file(@Req() req: Request, @Res() res: Response): void {
    const name = String(req.params.asset);
    if (!Object.hasOwn(ASSETS, name)) {
      res.status(404).json({ statusCode: 404, message: `no cockpit asset ${name}` });
      return;
    }
    res.type(ASSETS[name].type).setHeader('Cache-Control', 'public, max-age=300');
    res.send(asset(name));
  }

  /** `snapshot` events (the whole view, throttled) and `audit` events (each new row), plus a keep-alive comment. */
  @Get('events')
  events(@Req() req: Request, @Res() res: Response): void {
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    let closed = false;
    const send = async () => {
      if (closed) return;
      try {
        const snap = await this.feed.snapshot();
        if (!closed) res.write(`event: snapshot\ndata: ${JSON.stringify(snap)}\n\n`);
      } catch {
        // Next change sends a fresh one.
      }
    };
    const stop = this.feed.subscribe(
      () => void send(),
      (row) => !closed && res.write(`event: audit\ndata: ${JSON.stringify(row)}\n\n`),
    );
    const keepAlive = setInterval(() => !closed && res.write(': keep-alive\n\n'), 15_000);
    const end = () => {
      if (closed) return;
      closed = true;
      clearInterval(keepAlive);
      stop();
      res.end();
    };
    req.on('close', end);
    this.feed.onClose(end);
    void send();
  }
}

@Injectable()
class CockpitLifecycle implements BeforeApplicationShutdown {
  constructor(
    private readonly feed: CockpitFeed,
    observer: PulseObserver,
  ) {
    observer.listen(feed);
  }

  /** Open event streams would keep the HTTP server from closing. */
  beforeApplicationShutdown(): void {
    this.feed.stop();
  }
}

export const COCKPIT_CONTROL_ENABLED = Symbol('COCKPIT_CONTROL_ENABLED');

/** The operator's page. Needs the observer, audit and cluster modules. */
@Module({})
export class CockpitModule {
  static forRoot(options: { controlEnabled: boolean }): DynamicModule {
    return {
      module: CockpitModule,
      controllers: [CockpitController],
      providers: [
        { provide: COCKPIT_CONTROL_ENABLED, useValue: options.controlEnabled },
        {
          provide: CockpitFeed,
          inject: [
            PulseObserver,
            ClusterView,
            AuditTrail,
            DeadLetterAudit,
            COCKPIT_CONTROL_ENABLED,
          ],
          useFactory: (
            o: PulseObserver,
            c: ClusterView,
            t: AuditTrail,
            d: DeadLetterAudit,
            enabled: boolean,
          ) => new CockpitFeed(o, c, t, d, enabled),
        },
        CockpitLifecycle,
      ],
    };
  }
}
