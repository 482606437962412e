import { Body, Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { mintUserToken } from '@mlis/auth';
import type { AppConfig } from '@mlis/config';
import { ApiErrorCode } from '@mlis/contracts';
import { ApiErrorResponses } from '../common/error-response.dto';
import { InjectAppConfig } from '../core/app-config';
import { Public } from './auth.decorators';
import { DevTokenRequestDto, DevTokenResponseDto } from './dev-sign-in.dto';
import { InjectSigningSecret } from './signing-secret';

const DEFAULT_TTL_SECONDS = 3600;

/**
 * The console's dev sign-in form. Mounted only while user tokens are HS256 with the dev secret
 * (never with JWKS): whoever can reach the API can then mint a token anyway with `mlis dev-token`'s key.
 */
@ApiTags('auth')
@Controller('v1/auth')
export class DevSignInController {
  constructor(
    @InjectAppConfig() private readonly config: AppConfig,
    @InjectSigningSecret() private readonly secret: string,
  ) {}

  @Post('dev-token')
  @Public()
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Dev sign-in: mint a user token (only with the dev signing key, never with JWKS; MLIS_CONSOLE_DEV_SIGN_IN)' })
  @ApiOkResponse({ type: DevTokenResponseDto })
  @ApiErrorResponses(ApiErrorCode.ValidationFailed, ApiErrorCode.MalformedJson)
  mint(@Body() body: DevTokenRequestDto): DevTokenResponseDto {
    const ttl = body.ttl_seconds ?? DEFAULT_TTL_SECONDS;
    const token = mintUserToken(this.secret, this.config.auth, { sub: body.user, tenant: body.tenant, scope: [...new Set(body.scopes)].join(' ') }, ttl);
    return { token, expires_at: new Date(Date.now() + ttl * 1000).toISOString() };
  }
}
