import { Global, Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditRepository } from '../../../libs/db/audit.repository';
import { AuditController } from './audit.controller';
import { AuditService } from './audit.service';

/** The audit log: AuditRepository (the AuditRecorder) for every module, and GET /v1/audit. */
@Global()
@Module({
  controllers: [AuditController],
  providers: [
    { provide: AuditRepository, useFactory: (db: DataSource) => new AuditRepository(db), inject: [DataSource] },
    AuditService,
  ],
  exports: [AuditRepository],
})
export class AuditModule {}
