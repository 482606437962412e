import { Module } from '@nestjs/common';
import { ArtifactsModule } from '../artifacts/artifacts.module';
import { HealthController } from './health.controller';
import { HealthService } from './health.service';

@Module({
  imports: [ArtifactsModule],
  controllers: [HealthController],
  providers: [HealthService],
})
export class HealthModule {}
