import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export const CHECK_RESULTS = ['ok', 'failed'] as const;
export type CheckResult = (typeof CHECK_RESULTS)[number];

export class LiveResponseDto {
  @ApiProperty({ description: 'The process answers HTTP.', enum: ['ok'] })
  status: 'ok';
}

export class ReadyChecksDto {
  @ApiProperty({ description: 'Postgres answered SELECT 1 in time.', enum: CHECK_RESULTS })
  postgres: CheckResult;

  @ApiProperty({ description: 'The Temporal frontend answered in time.', enum: CHECK_RESULTS })
  temporal: CheckResult;

  @ApiPropertyOptional({
    description: '(ready/full only) every configured worker group has a live ACTIVE node.',
    enum: CHECK_RESULTS,
  })
  workers?: CheckResult;

  @ApiPropertyOptional({
    description: '(ready/full only) the artifact store would take an upload: fs, its folder is writable; s3, the bucket answers with these credentials.',
    enum: CHECK_RESULTS,
  })
  artifacts?: CheckResult;
}

export class ReadyResponseDto {
  @ApiProperty({ description: '"ok" with HTTP 200, else "unavailable" with HTTP 503.', enum: ['ok', 'unavailable'] })
  status: 'ok' | 'unavailable';

  @ApiProperty({ description: 'Each dependency check.', type: ReadyChecksDto })
  checks: ReadyChecksDto;

  @ApiPropertyOptional({
    description: '(ready/full only) live ACTIVE nodes per configured worker group.',
    type: 'object',
    additionalProperties: { type: 'integer' },
    example: { cpu: 2, gpu: 1 },
  })
  groups?: Record<string, number>;
}
