import { Body, Controller, Get, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrorCode } from '@mlis/contracts';
import type { TokenRevocation } from '@mlis/db';
import type { RequestActor } from '../common/actor';
import { ApiErrorResponses } from '../common/error-response.dto';
import { CurrentActor, RequireScopes } from './auth.decorators';
import { TokenRevocations } from './token-revocations';
import { RevokeTokensDto, TokenRevocationDto, TokenRevocationListDto } from './token-revocations.dto';

const toDto = (revocation: TokenRevocation): TokenRevocationDto => ({
  tenant_id: revocation.tenantId,
  subject: revocation.subject,
  revoked_at: revocation.revokedAt.toISOString(),
  revoked_by: revocation.revokedBy,
});

@ApiTags('auth')
@Controller('v1/auth/revocations')
@RequireScopes('admin:tenants')
@ApiErrorResponses(ApiErrorCode.Unauthorized, ApiErrorCode.Forbidden)
export class TokenRevocationsController {
  constructor(private readonly revocations: TokenRevocations) {}

  @Post()
  @HttpCode(HttpStatus.CREATED)
  @ApiOperation({
    summary: 'Revoke every user token of a holder issued up to now (scope admin:tenants)',
    description:
      'Refused with 401 on every API replica within 2 s (at once on the one that answers), audited token.revoke. ' +
      'Tokens the holder gets afterwards work. Event streams opened before stay open until they close.',
  })
  @ApiCreatedResponse({ type: TokenRevocationDto })
  @ApiErrorResponses(ApiErrorCode.ValidationFailed, ApiErrorCode.MalformedJson)
  async revoke(@CurrentActor() actor: RequestActor, @Body() body: RevokeTokensDto): Promise<TokenRevocationDto> {
    return toDto(await this.revocations.revoke(actor, body.tenant_id, body.subject));
  }

  @Get()
  @ApiOperation({ summary: 'Every holder whose tokens were revoked, and since when (scope admin:tenants)' })
  @ApiOkResponse({ type: TokenRevocationListDto })
  async list(): Promise<TokenRevocationListDto> {
    return { items: (await this.revocations.list()).map(toDto) };
  }
}
