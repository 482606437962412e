import { Global, Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import type { AppConfig } from '@mlis/config';
import { JwksKeySource, readDevSecret, TokenVerifier } from '@mlis/auth';
import { AccessTickets } from './access-tickets';
import { AuthController } from './auth.controller';
import { DevSignInController } from './dev-sign-in.controller';
import { ApiAuthGuard, UserTokenGuard, WorkerTokenGuard } from './auth.guard';
import { UserJwtStrategy, WorkerJwtStrategy } from './jwt.strategy';
import { SIGNING_SECRET } from './signing-secret';
import { TokenRevocations } from './token-revocations';
import { TokenRevocationsController } from './token-revocations.controller';

/**
 * Token verification and the global guard. The signing secret is read once here, for every use in the process
 * (SIGNING_SECRET): a missing or group/world-readable file stops the API from starting.
 */
@Global()
@Module({})
export class AuthModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AuthModule,
      imports: [PassportModule.register({ session: false })],
      controllers: config.console.devSignIn ? [AuthController, TokenRevocationsController, DevSignInController] : [AuthController, TokenRevocationsController],
      providers: [
        { provide: SIGNING_SECRET, useFactory: () => readDevSecret(config.auth.devSecretFile) },
        {
          provide: TokenVerifier,
          useFactory: (secret: string) =>
            new TokenVerifier({ auth: config.auth, secret, jwks: config.auth.jwksUrl ? new JwksKeySource(config.auth.jwksUrl) : undefined }),
          inject: [SIGNING_SECRET],
        },
        UserJwtStrategy,
        WorkerJwtStrategy,
        UserTokenGuard,
        WorkerTokenGuard,
        TokenRevocations,
        AccessTickets,
        ApiAuthGuard,
        // useExisting, so a spec can replace ApiAuthGuard with overrideProvider.
        { provide: APP_GUARD, useExisting: ApiAuthGuard },
      ],
      exports: [TokenVerifier, SIGNING_SECRET, TokenRevocations, AccessTickets],
    };
  }
}
