import {
  Controller,
  DynamicModule,
  HttpCode,
  Inject,
  MiddlewareConsumer,
  Module,
  NestModule,
  Post,
  Req,
  Res,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { text } from 'express';
import type { EventBus } from '@mdp/pulse';
import { EVENT_BUS, Logger } from '@mdp/service-kit';
import { Registry } from 'prom-client';
import { AuditTrail } from '../audit/audit-trail';
import { checkBearer } from './admin-token';
import { CONTROL_API_ACTIONS, ControlRequest, issuesOf } from './control-request';
import { ControlService, Requester } from './control.service';
import { SERVICE_LOGGER } from '@mdp/service-kit';

export const CONTROL_OPTIONS = Symbol('CONTROL_OPTIONS');

export interface ControlOptions {
  adminToken?: string;
  timeoutMs: number;
}

/** The action named in a body, for refusals' audit rows and metrics: one of ours, else `unknown`. */
function actionNamed(body: unknown): string {
  const a = (body as { action?: unknown } | null)?.action;
  return typeof a === 'string' && (CONTROL_API_ACTIONS as readonly string[]).includes(a)
    ? a
    : 'control.unknown';
}

function parseJson(raw: unknown): { ok: true; value: unknown } | { ok: false; message: string } {
  if (typeof raw !== 'string' || raw.trim() === '')
    return { ok: false, message: 'a JSON object is required' };
  try {
    return { ok: true, value: JSON.parse(raw) };
  } catch (err) {
    return { ok: false, message: `not valid JSON: ${(err as Error).message}` };
  }
}

/**
 * POST /control. The body is read as text and parsed here (not by a global JSON parser) so that junk
 * gets the same audited 400 as a valid JSON body with bad fields, and the token is checked first.
 */
@Controller()
export class ControlController {
  constructor(
    private readonly service: ControlService,
    @Inject(CONTROL_OPTIONS) private readonly options: ControlOptions,
  ) {}

  @Post('control')
  @HttpCode(200)
  async post(@Req() req: Request, @Res({ passthrough: true }) res: Response) {
    const parsed = parseJson(req.body);
    const body = parsed.ok ? parsed.value : undefined;
    const who: Requester = { actor: 'anonymous', client: req.ip ?? 'unknown' };
    const verdict = checkBearer(this.options.adminToken, req.headers.authorization);
    if (!verdict.ok) {
      const correlationId = await this.service.refused(
        actionNamed(body),
        who,
        verdict.status === 403 ? 'forbidden' : 'unauthorized',
        `${verdict.status}: ${verdict.reason}`,
      );
      res.status(verdict.status);
      if (verdict.status === 401)
        res.setHeader('WWW-Authenticate', 'Bearer realm="mdp-orchestrator"');
      return {
        error: verdict.status === 403 ? 'control disabled' : 'unauthorized',
        detail: verdict.reason,
        correlation_id: correlationId,
      };
    }
    const request = parsed.ok ? ControlRequest.safeParse(parsed.value) : undefined;
    if (!request?.success) {
      const issues = request
        ? issuesOf(request.error)
        : [{ path: '(body)', message: (parsed as { message: string }).message }];
      const correlationId = await this.service.refused(
        actionNamed(body),
        { ...who, actor: 'admin' },
        'invalid',
        `400: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      );
      res.status(400);
      return { error: 'invalid control request', issues, correlation_id: correlationId };
    }
    const reply = await this.service.send(request.data, {
      actor: request.data.actor ?? 'admin',
      client: who.client,
    });
    res.status(reply.http);
    return reply.body;
  }
}

/** POST /control: authenticated control actions out, results and audit entries back. Needs AuditModule. */
@Module({})
export class ControlModule implements NestModule {
  static forRoot(options: ControlOptions): DynamicModule {
    return {
      module: ControlModule,
      controllers: [ControlController],
      providers: [
        { provide: CONTROL_OPTIONS, useValue: options },
        {
          provide: ControlService,
          inject: [EVENT_BUS, AuditTrail, SERVICE_LOGGER, Registry],
          useFactory: (bus: EventBus, trail: AuditTrail, logger: Logger, registry: Registry) =>
            new ControlService(bus, trail, logger, registry, options.timeoutMs),
        },
      ],
      exports: [ControlService],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    // Any content type: a client that forgets `Content-Type: application/json` still gets a precise answer.
    consumer.apply(text({ type: () => true, limit: '64kb' })).forRoutes('control');
  }
}
