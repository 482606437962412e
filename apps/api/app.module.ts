import { Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from '@mlis/config';
import { DatabaseModule } from '@mlis/db/database.module';
import { ArtifactsModule } from './artifacts/artifacts.module';
import { AuditModule } from './audit/audit.module';
import { AuthModule } from './auth/auth.module';
import { CoreModule, type TemporalSdkMetrics } from './core/core.module';
import { DownloadsModule } from './downloads/downloads.module';
import { HealthModule } from './health/health.module';
import { JobsModule } from './jobs/jobs.module';
import { MetricsModule } from './metrics/metrics.module';
import { StreamModule } from './stream/stream.module';
import { TaskTypesModule } from './task-types/task-types.module';
import { TenantsModule } from './tenants/tenants.module';
import { UiModule } from './ui/ui.module';
import { WorkersModule } from './workers/workers.module';

@Module({})
export class AppModule {
  /** `temporalSdkMetrics`: see TEMPORAL_SDK_METRICS; the process installs the Temporal runtime that serves them. */
  static forRoot(config: AppConfig, temporalSdkMetrics: TemporalSdkMetrics = null): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(config, temporalSdkMetrics),
        DatabaseModule,
        AuditModule,
        AuthModule.forRoot(config),
        JobsModule,
        ArtifactsModule,
        TenantsModule,
        WorkersModule,
        HealthModule,
        MetricsModule,
        UiModule,
        StreamModule,
        DownloadsModule,
        TaskTypesModule,
      ],
    };
  }
}
