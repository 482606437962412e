import { Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TenantsRepository } from '../../../libs/db/tenants.repository';
import { TenantsController } from './tenants.controller';
import { TenantsService } from './tenants.service';

/** Tenant administration; exports the repository for admission limits. */
@Module({
  controllers: [TenantsController],
  providers: [
    { provide: TenantsRepository, useFactory: (db: DataSource) => new TenantsRepository(db), inject: [DataSource] },
    TenantsService,
  ],
  exports: [TenantsRepository],
})
export class TenantsModule {}
