import { Module } from '@nestjs/common';
import { createArtifactStore } from '@mlis/artifacts';
import type { AppConfig } from '@mlis/config';
import { APP_CONFIG } from '../core/app-config';
import { ArtifactsController } from './artifacts.controller';
import { ARTIFACT_STORE, ArtifactsService } from './artifacts.service';

/** /v1/artifacts, and ArtifactsService for other modules (jobs store large params as artifacts). */
@Module({
  controllers: [ArtifactsController],
  providers: [
    { provide: ARTIFACT_STORE, useFactory: (config: AppConfig) => createArtifactStore(config.artifacts), inject: [APP_CONFIG] },
    ArtifactsService,
  ],
  exports: [ArtifactsService, ARTIFACT_STORE],
})
export class ArtifactsModule {}
