import { Inject } from '@nestjs/common';

/**
 * The per-install HS256 secret, read once at start-up (AuthModule): the verifier checks with it, and worker tokens and
 * dev sign-in tokens are minted with it, so what this process mints always verifies in it.
 */
export const SIGNING_SECRET = Symbol('SigningSecret');

export const InjectSigningSecret = (): ParameterDecorator => Inject(SIGNING_SECRET);
