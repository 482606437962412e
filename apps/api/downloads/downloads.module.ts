import { Module } from '@nestjs/common';
import { ArtifactsModule } from '../artifacts/artifacts.module';
import { JobsModule } from '../jobs/jobs.module';
import { DownloadsController } from './downloads.controller';

/** GET /v1/downloads: what the artifacts' and jobs' download links open (ADR 0063). */
@Module({
  imports: [ArtifactsModule, JobsModule],
  controllers: [DownloadsController],
})
export class DownloadsModule {}
