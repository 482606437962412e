import { Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { MetricsRepository } from '../../../libs/db';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';

@Module({
  controllers: [MetricsController],
  providers: [
    MetricsService,
    { provide: MetricsRepository, useFactory: (db: DataSource) => new MetricsRepository(db), inject: [DataSource] },
  ],
})
export class MetricsModule {}
