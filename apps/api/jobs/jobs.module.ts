import { Module } from '@nestjs/common';
import { ArtifactsModule } from '../artifacts/artifacts.module';
import { TenantsModule } from '../tenants/tenants.module';
import { JobArtifactsService } from './job-artifacts.service';
import { JobWorkflows } from './job-workflows';
import { JobsController } from './jobs.controller';
import { JobsService } from './jobs.service';
import { SubmissionLimitsService } from './submission-limits.service';

@Module({
  imports: [ArtifactsModule, TenantsModule],
  controllers: [JobsController],
  providers: [JobsService, SubmissionLimitsService, JobArtifactsService, JobWorkflows],
  exports: [JobsService],
})
export class JobsModule {}
