import {
  BadRequestException,
  Controller,
  Get,
  Header,
  Query,
  ServiceUnavailableException,
} from '@nestjs/common';
import { z } from 'zod';
import { AUDIT_KINDS } from './audit-row';
import { AuditPage, decodeCursor, MAX_PAGE } from './audit-store';
import { AuditTrail } from './audit-trail';

const epoch = z.coerce.number({ error: 'must be epoch seconds' }).min(0, { error: 'must be >= 0' });

/** Query of GET /audit; every parameter optional. */
export const AuditQueryParams = z.object({
  since: epoch.optional(),
  until: epoch.optional(),
  target: z.string().min(1).optional(),
  action: z.string().min(1).optional(),
  kind: z.enum(AUDIT_KINDS, { error: `must be one of ${AUDIT_KINDS.join(' | ')}` }).optional(),
  correlation_id: z.string().min(1).optional(),
  limit: z.coerce
    .number({ error: 'must be an integer' })
    .int({ error: 'must be an integer' })
    .min(1)
    .max(MAX_PAGE, { error: `must be <= ${MAX_PAGE}` })
    .optional(),
  cursor: z
    .string()
    .refine((c) => decodeCursor(c) !== undefined, {
      error: 'is not a cursor returned by GET /audit',
    })
    .optional(),
});

/** GET /audit: the audit trail, newest first, in pages. */
@Controller()
export class AuditController {
  constructor(private readonly trail: AuditTrail) {}

  @Get('audit')
  @Header('Cache-Control', 'no-store')
  async page(@Query() raw: Record<string, string>): Promise<AuditPage> {
    const parsed = AuditQueryParams.safeParse(raw);
    if (!parsed.success)
      throw new BadRequestException({
        error: 'invalid query',
        issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      });
    const q = parsed.data;
    try {
      return await this.trail.store.page({
        since: q.since,
        until: q.until,
        target: q.target,
        action: q.action,
        kind: q.kind,
        correlationId: q.correlation_id,
        limit: q.limit,
        cursor: q.cursor,
      });
    } catch (err) {
      throw new ServiceUnavailableException({
        error: 'audit_log unavailable',
        detail: (err as Error).message,
      });
    }
  }
}
