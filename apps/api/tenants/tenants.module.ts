import { Module } from '@nestjs/common';
import { RecentTenants } from './recent-tenants';
import { TenantsController } from './tenants.controller';
import { TenantsService } from './tenants.service';

/** Tenant administration, and the tenant rows submissions are checked against. */
@Module({
  controllers: [TenantsController],
  providers: [TenantsService, RecentTenants],
  exports: [RecentTenants],
})
export class TenantsModule {}
