import type { ArtifactRecord } from '@mlis/db';
import type { ArtifactResponseDto } from './artifacts.dto';

/** The API's view of an artifact. */
export function toArtifactResponse(record: ArtifactRecord): ArtifactResponseDto {
  return {
    id: record.id,
    tenant_id: record.tenantId,
    name: record.name,
    content_type: record.contentType,
    size_bytes: record.sizeBytes,
    sha256: record.sha256,
    created_by: record.createdBy,
    created_at: record.createdAt.toISOString(),
    expires_at: record.expiresAt ? record.expiresAt.toISOString() : null,
  };
}
