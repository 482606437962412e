import { Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { createArtifactStore } from '../../../libs/artifacts';
import type { AppConfig } from '../../../libs/config';
import { ArtifactsRepository } from '../../../libs/db/artifacts.repository';
import { APP_CONFIG } from '../core/app-config';
import { TenantsModule } from '../tenants/tenants.module';
import { ArtifactsController } from './artifacts.controller';
import { ARTIFACT_STORE, ArtifactsService } from './artifacts.service';

/** /v1/artifacts, and ArtifactsService for other modules (jobs store large params as artifacts). */
@Module({
  imports: [TenantsModule],
  controllers: [ArtifactsController],
  providers: [
    { provide: ArtifactsRepository, useFactory: (db: DataSource) => new ArtifactsRepository(db), inject: [DataSource] },
    { provide: ARTIFACT_STORE, useFactory: (config: AppConfig) => createArtifactStore(config.artifacts), inject: [APP_CONFIG] },
    ArtifactsService,
  ],
  exports: [ArtifactsService, ArtifactsRepository, ARTIFACT_STORE],
})
export class ArtifactsModule {}
