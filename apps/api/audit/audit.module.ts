import { Module } from '@nestjs/common';
import { AuditController } from './audit.controller';
import { AuditService } from './audit.service';

/** GET /v1/audit. AuditRepository (the AuditRecorder every module records with) comes from DatabaseModule. */
@Module({
  controllers: [AuditController],
  providers: [AuditService],
})
export class AuditModule {}
