import { ApiProperty } from '@nestjs/swagger';
import { Length, Matches } from 'class-validator';
import { NAME_PATTERN } from '@mlis/contracts';
import { IsPlainText, PLAIN_TEXT_PATTERN } from '../common/plain-text';

export class RevokeTokensDto {
  @ApiProperty({ description: 'The tenant the tokens name (their `tenant` claim); it need not exist.', example: 'team-a', pattern: NAME_PATTERN.source })
  @Matches(NAME_PATTERN, { message: 'tenant_id must be lowercase letters, digits and dashes (1-63), starting with a letter or digit' })
  tenant_id: string;

  @ApiProperty({ description: 'The holder: the tokens\' `sub` claim.', example: 'alice', minLength: 1, maxLength: 256, pattern: PLAIN_TEXT_PATTERN })
  @IsPlainText()
  @Length(1, 256)
  subject: string;
}

export class TokenRevocationDto {
  @ApiProperty({ description: 'The tenant the revoked tokens name.', example: 'team-a' })
  tenant_id: string;

  @ApiProperty({ description: "The revoked tokens' `sub`.", example: 'alice' })
  subject: string;

  @ApiProperty({
    description: 'Every token of this holder issued at or before this second (its `iat`), or without an `iat`, is refused with 401; tokens issued later are not.',
    format: 'date-time',
  })
  revoked_at: string;

  @ApiProperty({ description: 'Who revoked them: `<tenant>/<subject>` of the admin.', example: 'default/dev' })
  revoked_by: string;
}

export class TokenRevocationListDto {
  @ApiProperty({ description: 'Every holder whose tokens were revoked, by tenant then subject.', type: [TokenRevocationDto] })
  items: TokenRevocationDto[];
}
