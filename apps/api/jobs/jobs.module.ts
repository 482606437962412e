import { Module } from '@nestjs/common';
import { TenantsModule } from '../tenants/tenants.module';
import { JobsController } from './jobs.controller';
import { JobsService } from './jobs.service';
import { SubmissionLimitsService } from './submission-limits.service';

@Module({
  imports: [TenantsModule],
  controllers: [JobsController],
  providers: [JobsService, SubmissionLimitsService],
  exports: [JobsService],
})
export class JobsModule {}
