import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { Response } from 'express';
import { TokenRejectedError, TokenVerifier, type VerifiedToken } from '@mlis/auth';
import { ApiErrorCode, ASSIGNMENT_HEADER } from '@mlis/contracts';
import { Access } from '../common/access';
import type { RequestActor } from '../common/actor';
import { DomainError, RetryLaterError } from '../common/domain-error';
import { requestIdOf } from '../common/request-context';
import {
  PUBLIC_ROUTE,
  REQUIRED_SCOPES,
  WORKER_ACCESS,
  WORKER_ROUTE,
  type AuthenticatedRequest,
  type WorkerRouteOptions,
} from './auth.decorators';
import { USER_JWT_STRATEGY, WORKER_JWT_STRATEGY } from './jwt.strategy';
import { TokenRevocations } from './token-revocations';

function passportGuard(strategy: string) {
  class TokenGuard extends AuthGuard(strategy) {
    // Every failure becomes a TokenRejectedError with a reason; passport's own messages never reach the caller.
    override handleRequest<T = VerifiedToken>(err: unknown, user: T | false, info: unknown): T {
      if (err || !user) throw TokenVerifier.rejectionOf(err ?? info);
      return user;
    }
  }
  return TokenGuard;
}

@Injectable()
export class UserTokenGuard extends passportGuard(USER_JWT_STRATEGY) {}

@Injectable()
export class WorkerTokenGuard extends passportGuard(WORKER_JWT_STRATEGY) {}

/**
 * The global guard: every route needs a valid user token with the route's scopes, unless it is
 * @Public or a @WorkerRoute (a worker token bound to the route's node). Each denial is audited.
 */
@Injectable()
export class ApiAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(UserTokenGuard) private readonly userGuard: UserTokenGuard,
    @Inject(WorkerTokenGuard) private readonly workerGuard: WorkerTokenGuard,
    @Inject(Access) private readonly access: Access,
    @Inject(TokenRevocations) private readonly revocations: TokenRevocations,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const requestId = requestIdOf(context.switchToHttp().getResponse<Response>());
    const workerAccess =
      this.reflector.getAllAndOverride<boolean | undefined>(WORKER_ACCESS, targets) === true && req.headers[ASSIGNMENT_HEADER.toLowerCase()] !== undefined;
    const worker = this.reflector.getAllAndOverride<WorkerRouteOptions | undefined>(WORKER_ROUTE, targets) ?? (workerAccess ? {} : undefined);
    const kind = worker ? 'worker' : 'user';

    try {
      await (worker ? this.workerGuard : this.userGuard).canActivate(context);
    } catch (error) {
      const rejection = error instanceof TokenRejectedError ? error : TokenVerifier.rejectionOf(error);
      // The identity provider's keys could not be fetched: nothing is known of the token, so nothing is denied.
      if (rejection.reason === 'key_unavailable') {
        throw new RetryLaterError(ApiErrorCode.DependencyUnavailable, 'the signing keys of the identity provider could not be fetched; try again shortly', 5);
      }
      await this.deny(req, requestId, null, `auth.${kind}_token`, rejection.reason);
      throw new DomainError(ApiErrorCode.Unauthorized, `${rejection.message}: a valid ${kind} bearer token is required`);
    }
    const verified = req.user as VerifiedToken;
    const actor = { ...verified.actor, requestId };
    req.actor = actor;

    if (verified.kind === 'worker') {
      const nodeId = worker?.nodeParam ? req.params[worker.nodeParam] : undefined;
      const incarnation: unknown = (req.body as { incarnation?: unknown } | undefined)?.incarnation;
      if ((nodeId !== undefined && nodeId !== verified.nodeId) || (typeof incarnation === 'number' && incarnation !== verified.incarnation)) {
        await this.deny(req, requestId, actor, 'auth.worker_binding', 'other_node');
        throw new DomainError(ApiErrorCode.Forbidden, 'this worker token is bound to another node incarnation');
      }
      req.workerBinding = { nodeId: verified.nodeId, incarnation: verified.incarnation };
      return true;
    }

    req.tokenIssuedAt = verified.issuedAt;
    if (this.revocations.isRevoked(actor.tenantId, actor.subject, verified.issuedAt)) {
      await this.deny(req, requestId, actor, 'auth.user_token', 'token_revoked');
      throw new DomainError(ApiErrorCode.Unauthorized, 'this token was revoked: a valid user bearer token is required');
    }

    const required = this.reflector.getAllAndOverride<string[] | undefined>(REQUIRED_SCOPES, targets) ?? [];
    const missing = required.filter((scope) => !actor.scopes.has(scope));
    if (missing.length > 0) {
      await this.deny(req, requestId, actor, 'auth.scope', 'missing_scope');
      throw new DomainError(ApiErrorCode.Forbidden, `this token lacks the scope ${missing.join(' ')}`);
    }
    return true;
  }

  // The row names the route; a user's own tenant is the target, a node or an unverified caller has none.
  private deny(req: AuthenticatedRequest, requestId: string, actor: RequestActor | null, action: string, reason: string): Promise<void> {
    return this.access.deny(actor ?? { requestId, subject: null }, {
      action,
      resource: `${req.method} ${req.route ? String((req.route as { path?: unknown }).path) : req.path}`,
      targetTenant: actor?.kind === 'user' ? actor.tenantId : null,
      reason,
    });
  }
}
