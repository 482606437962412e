import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrorCode } from '@mlis/contracts';
import type { RequestActor } from '../common/actor';
import { ApiErrorResponses } from '../common/error-response.dto';
import { CurrentActor, RequireScopes } from './auth.decorators';
import { WhoamiResponseDto } from './auth.dto';

@ApiTags('auth')
@Controller('v1/auth')
export class AuthController {
  @Get('whoami')
  @RequireScopes()
  @ApiOperation({ summary: 'Who the bearer token says you are: any valid user token' })
  @ApiOkResponse({ type: WhoamiResponseDto })
  @ApiErrorResponses(ApiErrorCode.Unauthorized)
  whoami(@CurrentActor() actor: RequestActor): WhoamiResponseDto {
    return {
      subject: actor.subject,
      tenant: actor.tenantId,
      scopes: [...actor.scopes].sort(),
      cross_tenant: actor.crossTenant,
      token_kind: 'user',
    };
  }
}
