import { applyDecorators, createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import type { Request } from 'express';
import type { Scope } from '@mlis/auth';
import type { RequestActor } from '../common/actor';

export const PUBLIC_ROUTE = 'mlis:public';
export const REQUIRED_SCOPES = 'mlis:scopes';
export const WORKER_ROUTE = 'mlis:worker-route';
export const WORKER_ACCESS = 'mlis:worker-access';

/** What the worker guard binds: the route parameter naming the node (and the body's `incarnation`, when sent). */
export interface WorkerRouteOptions {
  nodeParam?: string;
}

/** No user token needed (health, docs, metrics, registration: that route checks its own credential). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_ROUTE, true);

/** A user token carrying every one of these scopes. */
export const RequireScopes = (...scopes: Scope[]): MethodDecorator & ClassDecorator =>
  applyDecorators(SetMetadata(REQUIRED_SCOPES, scopes), ApiBearerAuth());

/**
 * A worker token (its own `typ` and audience) instead of a user token. With `nodeParam` the token's
 * node_id must equal that route parameter, and its incarnation the body's `incarnation` when present.
 */
export const WorkerRoute = (options: WorkerRouteOptions = {}): MethodDecorator & ClassDecorator =>
  applyDecorators(SetMetadata(WORKER_ROUTE, options), ApiBearerAuth());

/**
 * A user route that a node may also call for one of its assignments: a request carrying the X-MLIS-Assignment
 * header must present a worker token (the route's service checks the assignment); without the header, a user
 * token with the route's scopes.
 */
export const WorkerAccess = (): MethodDecorator & ClassDecorator => SetMetadata(WORKER_ACCESS, true);

/** Where the guard leaves the verified caller on the request. */
export interface AuthenticatedRequest extends Request {
  actor?: RequestActor;
  workerBinding?: { nodeId: string; incarnation: number };
  /** A user token's `iat` (epoch seconds), null when it has none: what a revocation is compared with. */
  tokenIssuedAt?: number | null;
}

/** The `iat` of this request's user token (set by the global auth guard); null when it has none. */
export const TokenIssuedAt = createParamDecorator((_data: unknown, context: ExecutionContext): number | null => {
  const issuedAt = context.switchToHttp().getRequest<AuthenticatedRequest>().tokenIssuedAt;
  if (issuedAt === undefined) throw new Error('TokenIssuedAt used on a route without a user token');
  return issuedAt;
});

/** The verified caller of this request (set by the global auth guard). */
export const CurrentActor = createParamDecorator((_data: unknown, context: ExecutionContext): RequestActor => {
  const actor = context.switchToHttp().getRequest<AuthenticatedRequest>().actor;
  // Only reachable on a @Public route, where no actor exists: a programming error, not a caller's.
  if (!actor) throw new Error('CurrentActor used on a route without authentication');
  return actor;
});
