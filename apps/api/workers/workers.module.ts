import { Module } from '@nestjs/common';
import { ApiPresence } from './api-presence';
import { BootstrapCredentialGuard } from './bootstrap-credential.guard';
import { WorkerCredentials } from './worker-credentials';
import { InternalNodesController, WorkerGroupsController, WorkersController } from './workers.controller';
import { WorkersService } from './workers.service';

@Module({
  controllers: [WorkersController, WorkerGroupsController, InternalNodesController],
  providers: [WorkersService, WorkerCredentials, BootstrapCredentialGuard, ApiPresence],
  exports: [WorkersService],
})
export class WorkersModule {}
