import { Module } from '@nestjs/common';
import { JobsModule } from '../jobs/jobs.module';
import { UiController } from './ui.controller';
import { UiService } from './ui.service';

@Module({
  imports: [JobsModule],
  controllers: [UiController],
  providers: [UiService],
})
export class UiModule {}
