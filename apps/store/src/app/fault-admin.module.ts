import {
  Body,
  Controller,
  Get,
  Inject,
  Module,
  NotFoundException,
  Put,
  UnprocessableEntityException,
  UseGuards,
} from '@nestjs/common';
import { z } from 'zod';
import type { WriteCoordinator } from '../coordinator/write-coordinator';
import type { SinkFaults } from '../sinks/sink-faults';
import type { StoreItem } from '../sinks/store-sink';
import { AdminTokenGuard } from './admin.module';
import { CoordinatorModule, faultySinkOf } from './coordinator.module';
import { WRITE_COORDINATOR } from './tokens';

/** The body of `PUT /admin/faults/sink`: the MDS_FAULT_SINK_* settings, replacing the current ones. */
const SinkFaultsBody = z.strictObject({
  delay_ms: z.number().int().min(0).default(0),
  max_rows_per_sec: z.number().gt(0).nullable().default(null),
  duration_sec: z.number().gt(0).nullable().default(null),
});

function toWire(f: SinkFaults) {
  return {
    delay_ms: f.delayMs,
    max_rows_per_sec: f.maxRowsPerSec ?? null,
    duration_sec: f.durationMs === undefined ? null : f.durationMs / 1000,
  };
}

/**
 * Changes the sink's injected faults while the store runs (a database that slows down and recovers,
 * for benchmarks and system tests). Exists only with MDS_FAULT_SINK_ADMIN=true (404 otherwise) and,
 * like every admin endpoint, behind MDS_ADMIN_TOKEN.
 */
@Controller('admin/faults/sink')
@UseGuards(AdminTokenGuard)
export class SinkFaultAdminController {
  constructor(
    @Inject(WRITE_COORDINATOR) private readonly coordinator: WriteCoordinator<StoreItem>,
  ) {}

  @Get()
  current() {
    return toWire(this.sink().settings);
  }

  @Put()
  replace(@Body() body: unknown) {
    const parsed = SinkFaultsBody.safeParse(body ?? {});
    if (!parsed.success) {
      throw new UnprocessableEntityException(
        parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '),
      );
    }
    const { delay_ms, max_rows_per_sec, duration_sec } = parsed.data;
    const faults: SinkFaults = {
      delayMs: delay_ms,
      ...(max_rows_per_sec === null ? {} : { maxRowsPerSec: max_rows_per_sec }),
      ...(duration_sec === null ? {} : { durationMs: duration_sec * 1000 }),
    };
    this.sink().set(faults);
    return toWire(faults);
  }

  private sink() {
    const sink = faultySinkOf(this.coordinator);
    if (!sink)
      throw new NotFoundException(
        'sink faults cannot be changed at run time: start the store with MDS_FAULT_SINK_ADMIN=true',
      );
    return sink;
  }
}

@Module({
  imports: [CoordinatorModule],
  controllers: [SinkFaultAdminController],
  providers: [AdminTokenGuard],
})
export class FaultAdminModule {}
