import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsIn, IsInt, IsString, Length, Matches, Max, Min, ValidateIf } from 'class-validator';
import { SCOPES } from '@mlis/auth';
import { IsPlainText, PLAIN_TEXT_PATTERN } from '../common/plain-text';
import { NAME_PATTERN } from '@mlis/contracts';

export const MAX_DEV_SIGN_IN_TTL_SECONDS = 12 * 3600;

export class DevTokenRequestDto {
  @ApiProperty({ description: 'Tenant the token acts for.', example: 'default', pattern: NAME_PATTERN.source })
  @IsString()
  @Matches(NAME_PATTERN, { message: 'tenant must be lowercase letters, digits and dashes (1-63), starting with a letter or digit' })
  tenant: string;

  @ApiProperty({ description: 'Subject (sub) of the token.', example: 'dev', minLength: 1, maxLength: 200, pattern: PLAIN_TEXT_PATTERN })
  @IsPlainText()
  @Length(1, 200)
  user: string;

  @ApiProperty({ description: 'Scopes the token carries.', enum: SCOPES, isArray: true, maxItems: SCOPES.length, example: ['jobs:read', 'jobs:submit'] })
  @IsArray()
  @ArrayMaxSize(SCOPES.length)
  @IsIn(SCOPES, { each: true })
  scopes: string[];

  @ApiPropertyOptional({ description: 'Lifetime in seconds.', type: 'integer', minimum: 60, maximum: MAX_DEV_SIGN_IN_TTL_SECONDS, default: 3600 })
  // Absent means the default; null is not a lifetime.
  @ValidateIf((_, value) => value !== undefined)
  @IsInt()
  @Min(60)
  @Max(MAX_DEV_SIGN_IN_TTL_SECONDS)
  ttl_seconds?: number;
}

export class DevTokenResponseDto {
  @ApiProperty({ description: 'A user token (HS256, signed with the dev key); never cross-tenant.' })
  token: string;

  @ApiProperty({ description: 'When it expires.', format: 'date-time' })
  expires_at: string;
}
