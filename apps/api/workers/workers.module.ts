import { Module } from '@nestjs/common';
import { InternalNodesController, WorkersController } from './workers.controller';
import { WorkersService } from './workers.service';

@Module({
  controllers: [WorkersController, InternalNodesController],
  providers: [WorkersService],
  exports: [WorkersService],
})
export class WorkersModule {}
