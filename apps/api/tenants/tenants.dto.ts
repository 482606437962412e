import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, IsString, Length, Matches, Max, Min, ValidateIf } from 'class-validator';
import { NAME_PATTERN } from '@mlis/contracts';
import { IsPlainText, PLAIN_TEXT_PATTERN } from '../common/plain-text';
import { IsGroupLimitsMap, MAX_GROUP_LIMITS, type GroupLimitsBody } from './group-limits';

const INT32_MAX = 2_147_483_647;

// Limits: null (or absent at creation) means unlimited; on PATCH, absent means unchanged.
class TenantLimitsDto {
  @ApiPropertyOptional({ description: 'Most jobs the tenant may have waiting (QUEUED); null for no limit.', type: 'integer', nullable: true, minimum: 0, maximum: INT32_MAX })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(INT32_MAX)
  max_queued_jobs?: number | null;

  @ApiPropertyOptional({ description: 'Submissions allowed per minute (a bucket of this size); null for no limit.', type: 'integer', nullable: true, minimum: 0, maximum: INT32_MAX })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(INT32_MAX)
  submit_rate_per_minute?: number | null;

  @ApiPropertyOptional({ description: 'Most jobs running at once; more wait with quota_exceeded. null for no limit.', type: 'integer', nullable: true, minimum: 0, maximum: INT32_MAX })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(INT32_MAX)
  max_running_jobs?: number | null;

  @ApiPropertyOptional({ description: 'Most GPUs in use at once; more wait with quota_exceeded. null for no limit.', type: 'integer', nullable: true, minimum: 0, maximum: INT32_MAX })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(INT32_MAX)
  max_gpus?: number | null;

  @ApiPropertyOptional({
    description: "Largest artifact upload in bytes (413 above it), below the server's MLIS_ARTIFACTS_MAX_BYTES; null: the server's.",
    type: 'integer',
    format: 'int64',
    nullable: true,
    minimum: 0,
    maximum: Number.MAX_SAFE_INTEGER,
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  max_artifact_bytes?: number | null;

  @ApiPropertyOptional({ description: 'Fair-share weight: a tenant of weight 2 is entitled to twice the dominant share of one of weight 1. Default 1.', type: 'integer', minimum: 1, maximum: 1000 })
  // Absent means default (create) or unchanged (update); null is not a weight.
  @ValidateIf((_, value) => value !== undefined)
  @IsInt()
  @Min(1)
  @Max(1000)
  weight?: number;

  @ApiPropertyOptional({
    description: `Limits inside worker groups (at most ${MAX_GROUP_LIMITS}), on top of the tenant-wide ones: a job the limits of every group it could run in would pass waits with quota_exceeded. On PATCH each group given replaces that group's limits (an absent or null field is no limit) and a group given as null loses its limits; groups not given are unchanged.`,
    type: 'object',
    additionalProperties: {
      type: 'object',
      nullable: true,
      properties: {
        max_running_jobs: { type: 'integer', nullable: true, minimum: 0, maximum: INT32_MAX },
        max_gpus: { type: 'integer', nullable: true, minimum: 0, maximum: INT32_MAX },
      },
    },
    example: { gpu: { max_gpus: 4, max_running_jobs: 10 } },
  })
  // The body's object as parsed: class-transformer's copy drops keys that name Object methods.
  @Transform(({ obj }: { obj: Record<string, unknown> }) => obj.group_limits, { toClassOnly: true })
  // Absent means none (create) or unchanged (update); null is not a map (a group given as null loses its limits).
  @ValidateIf((_, value) => value !== undefined)
  @IsGroupLimitsMap()
  group_limits?: Record<string, GroupLimitsBody | null>;
}

export class CreateTenantDto extends TenantLimitsDto {
  @ApiProperty({ description: 'Tenant id: lowercase letters, digits and dashes, up to 63 characters.', example: 'team-a', pattern: NAME_PATTERN.source })
  @IsString()
  @Matches(NAME_PATTERN, { message: 'id must be lowercase letters, digits and dashes (1-63), starting with a letter or digit' })
  id: string;

  @ApiPropertyOptional({ description: 'Display name (absent or null: the id).', type: String, nullable: true, minLength: 1, maxLength: 200, pattern: PLAIN_TEXT_PATTERN })
  @IsOptional()
  @IsPlainText()
  @Length(1, 200)
  name?: string;
}

export class UpdateTenantDto extends TenantLimitsDto {
  @ApiPropertyOptional({ description: 'Display name (absent or null: unchanged).', type: String, nullable: true, minLength: 1, maxLength: 200, pattern: PLAIN_TEXT_PATTERN })
  @IsOptional()
  @IsPlainText()
  @Length(1, 200)
  name?: string;
}

export class TenantResponseDto {
  @ApiProperty({ description: 'Tenant id.' })
  id: string;

  @ApiProperty({ description: 'Display name.' })
  name: string;

  @ApiProperty({ description: 'Most jobs waiting (QUEUED); null for no limit.', type: Number, nullable: true })
  max_queued_jobs: number | null;

  @ApiProperty({ description: 'Submissions per minute; null for no limit.', type: Number, nullable: true })
  submit_rate_per_minute: number | null;

  @ApiProperty({ description: 'Most jobs running at once; null for no limit.', type: Number, nullable: true })
  max_running_jobs: number | null;

  @ApiProperty({ description: 'Most GPUs in use at once; null for no limit.', type: Number, nullable: true })
  max_gpus: number | null;

  @ApiProperty({ description: "Largest artifact upload in bytes; null: the server's MLIS_ARTIFACTS_MAX_BYTES.", type: 'integer', format: 'int64', nullable: true })
  max_artifact_bytes: number | null;

  @ApiProperty({ description: 'Fair-share weight (1-1000).' })
  weight: number;

  @ApiProperty({
    description: 'Limits inside worker groups; a group not listed has none of its own.',
    type: 'object',
    additionalProperties: {
      type: 'object',
      properties: { max_running_jobs: { type: 'integer', nullable: true }, max_gpus: { type: 'integer', nullable: true } },
      // Both are always sent (null: no limit in that group).
      required: ['max_running_jobs', 'max_gpus'],
    },
    example: { gpu: { max_running_jobs: 10, max_gpus: 4 } },
  })
  group_limits: Record<string, { max_running_jobs: number | null; max_gpus: number | null }>;

  @ApiProperty({ description: 'When it was created.', format: 'date-time' })
  created_at: string;

  @ApiProperty({ description: 'When it last changed.', format: 'date-time' })
  updated_at: string;
}

export class TenantListResponseDto {
  @ApiProperty({ description: 'Every tenant, by id.', type: [TenantResponseDto] })
  items: TenantResponseDto[];
}
