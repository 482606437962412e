import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { JOB_CURSOR_PATTERN } from '../jobs/jobs-cursor';
import { IntegerQuery } from '../common/validation';

// eslint-disable-next-line no-control-regex -- control characters are exactly what a file name must not carry
const FILE_NAME_PATTERN = /^[^\u0000-\u001f\u007f/\\]+$/;

export const DEFAULT_ARTIFACT_PAGE_SIZE = 50;
export const MAX_ARTIFACT_PAGE_SIZE = 200;
/** Ten years: an artifact that should outlive that should not expire at all (leave the default at 0). */
export const MAX_EXPIRES_IN_SECONDS = 10 * 365 * 24 * 3600;

export class UploadArtifactQueryDto {
  @ApiPropertyOptional({
    description: 'A file name to remember (shown in lists, sent back in Content-Disposition): no control characters or slashes.',
    minLength: 1,
    maxLength: 255,
    pattern: FILE_NAME_PATTERN.source,
  })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(255)
  @Matches(FILE_NAME_PATTERN, { message: 'name must not contain control characters or slashes' })
  name?: string;

  @ApiPropertyOptional({
    description: 'The sha256 the bytes must hash to, hex; on a mismatch the answer is 400 checksum_mismatch and nothing is kept.',
    pattern: '^[0-9a-fA-F]{64}$',
  })
  @IsOptional()
  @IsString()
  @Matches(/^[0-9a-f]{64}$/, { message: 'sha256 must be 64 hex digits' })
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.toLowerCase() : value))
  sha256?: string;

  @ApiPropertyOptional({
    description: 'Seconds until the artifact may be deleted (once no waiting or running job uses it); default from MLIS_ARTIFACTS_DEFAULT_EXPIRY_SECONDS.',
    minimum: 1,
    maximum: MAX_EXPIRES_IN_SECONDS,
    type: 'integer',
  })
  @IsOptional()
  @IntegerQuery()
  @IsInt()
  @Min(1)
  @Max(MAX_EXPIRES_IN_SECONDS)
  expires_in_seconds?: number;
}

export class ArtifactListQueryDto {
  @ApiPropertyOptional({ description: 'Page size.', minimum: 1, maximum: MAX_ARTIFACT_PAGE_SIZE, default: DEFAULT_ARTIFACT_PAGE_SIZE, type: 'integer' })
  @IsOptional()
  @IntegerQuery()
  @IsInt()
  @Min(1)
  @Max(MAX_ARTIFACT_PAGE_SIZE)
  limit?: number;

  @ApiPropertyOptional({
    description: "next_cursor of the previous page: the last artifact's created_at (UTC, up to microseconds) and id, joined by _.",
    pattern: JOB_CURSOR_PATTERN,
    example: '2026-12-01T21:45:16.302123Z_0b9e2a8e-55d5-4c55-9f57-7a3f0d9d2f10',
  })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @ApiPropertyOptional({
    description: 'Only artifacts whose name starts with this, as given (case-sensitive; % and _ are plain characters). Unnamed artifacts never match.',
    minLength: 1,
    maxLength: 255,
    example: 'result-',
  })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(255)
  prefix?: string;
}

export class ArtifactResponseDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty()
  tenant_id: string;

  @ApiProperty({ nullable: true, type: String, description: 'The name given at upload, if any.' })
  name: string | null;

  @ApiProperty({ example: 'application/octet-stream' })
  content_type: string;

  @ApiProperty({ type: 'integer', format: 'int64', minimum: 0 })
  size_bytes: number;

  @ApiProperty({ pattern: '^[0-9a-f]{64}$', description: 'sha256 of the bytes, hex; also the ETag of GET /v1/artifacts/{id}.' })
  sha256: string;

  @ApiProperty({ description: 'The user subject, or node:<node id> for a result a node uploaded.' })
  created_by: string;

  @ApiProperty({ format: 'date-time' })
  created_at: string;

  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'After this the artifact is deleted once no waiting or running job uses it; null: never.' })
  expires_at: string | null;
}

export class ArtifactListResponseDto {
  @ApiProperty({ type: [ArtifactResponseDto], description: 'Newest first.' })
  items: ArtifactResponseDto[];

  @ApiProperty({ nullable: true, type: String, description: 'Pass as cursor for the next page; null on the last page.' })
  next_cursor: string | null;
}
