import {
  BadRequestException,
  CanActivate,
  Controller,
  ExecutionContext,
  ForbiddenException,
  Get,
  Inject,
  Injectable,
  Module,
  Param,
  Post,
  Query,
  ServiceUnavailableException,
  UnauthorizedException,
  UseGuards,
} from '@nestjs/common';
import { CircuitState } from 'cockatiel';
import crypto from 'crypto';
import type { WriteCoordinator } from '../coordinator/write-coordinator';
import type { StoreItem } from '../sinks/store-sink';
import type { StoreEnv } from '../config/store-config';
import { RejectFiles } from '../rejects/reject-files';
import { SINK_KINDS, SinkKind } from '../sinks/tables';
import { StoreWriter, WriteReport } from '../store-writer';
import { CoordinatorModule } from './coordinator.module';
import { WRITE_COORDINATOR } from './tokens';
import { SERVICE_CONFIG } from '@mdp/service-kit';

/**
 * Admin calls need `Authorization: Bearer <MDS_ADMIN_TOKEN>`; with no token configured the admin
 * endpoints are disabled (403), never open. The comparison runs over SHA-256 digests with
 * `timingSafeEqual`: equal lengths whatever was sent, so neither the length nor a prefix of the token
 * leaks through response times.
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected?: Buffer;

  constructor(@Inject(SERVICE_CONFIG) env: StoreEnv) {
    if (env.MDS_ADMIN_TOKEN) this.expected = digest(`Bearer ${env.MDS_ADMIN_TOKEN}`);
  }

  canActivate(ctx: ExecutionContext): boolean {
    if (!this.expected)
      throw new ForbiddenException(
        'admin endpoints are disabled: set MDS_ADMIN_TOKEN to enable them',
      );
    const header = ctx.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>()
      .headers.authorization;
    if (crypto.timingSafeEqual(digest(header ?? ''), this.expected)) return true;
    throw new UnauthorizedException('admin endpoints need Authorization: Bearer <MDS_ADMIN_TOKEN>');
  }
}

function digest(text: string): Buffer {
  return crypto.createHash('sha256').update(text, 'utf8').digest();
}

function sinkOf(raw: string): SinkKind {
  if ((SINK_KINDS as readonly string[]).includes(raw)) return raw as SinkKind;
  throw new BadRequestException(`unknown sink "${raw}"; one of ${SINK_KINDS.join(', ')}`);
}

function intOf(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new BadRequestException(`${name} must be a non-negative integer`);
  return n;
}

/** Reject-file inspection and replay (the routes keep their original names): GET /admin/dlq, GET /admin/dlq/:sink, POST /admin/dlq/:sink/replay. */
@Controller('admin/dlq')
@UseGuards(AdminTokenGuard)
export class RejectFilesAdminController {
  constructor(
    private readonly rejects: RejectFiles,
    private readonly writer: StoreWriter,
    @Inject(WRITE_COORDINATOR) private readonly coordinator: WriteCoordinator<StoreItem>,
  ) {}

  @Get()
  async summary(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const kind of SINK_KINDS) out[kind] = await this.rejects.file(kind).count();
    return out;
  }

  @Get(':sink')
  async list(
    @Param('sink') sink: string,
    @Query('offset') offset?: string,
    @Query('limit') limit?: string,
  ) {
    const kind = sinkOf(sink);
    return {
      sink: kind,
      ...(await this.rejects
        .file(kind)
        .list({ offset: intOf(offset, 0, 'offset'), limit: intOf(limit, 100, 'limit') })),
    };
  }

  @Post(':sink/replay')
  async replay(@Param('sink') sink: string) {
    const kind = sinkOf(sink);
    // The response waits for every replayed row to settle; with the circuit open that would hang.
    if (this.coordinator.circuitState !== CircuitState.Closed)
      throw new ServiceUnavailableException('database unavailable (circuit open); replay later');
    return replayRejects(this.rejects, this.writer, kind);
  }
}

/** Re-submits a sink's rejected rows through the coordinator; rows that fail again land in its reject file anew. */
export async function replayRejects(rejects: RejectFiles, writer: StoreWriter, kind: SinkKind) {
  const totals: WriteReport = {
    submitted: 0,
    written: 0,
    dead_lettered: 0,
    dropped: 0,
    invalid: 0,
    failed: 0,
  };
  const outcome = await rejects.file(kind).replay(async (rows) => {
    const r = await writer.write(kind, rows);
    for (const k of Object.keys(totals) as (keyof WriteReport)[]) totals[k] += r[k];
  });
  return { sink: kind, ...outcome, ...totals };
}

@Module({
  imports: [CoordinatorModule],
  controllers: [RejectFilesAdminController],
  providers: [AdminTokenGuard],
})
export class AdminModule {}
