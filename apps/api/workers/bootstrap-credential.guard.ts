import { Inject, Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { ApiErrorCode, NAME_PATTERN } from '@mlis/contracts';
import { Access } from '../common/access';
import { DomainError } from '../common/domain-error';
import { requestIdOf } from '../common/request-context';
import { WorkerCredentials } from './worker-credentials';

const BOOTSTRAP_ACTION = 'mlis:bootstrap-action';

/** The audit action a refused bootstrap credential is recorded under on this route. */
export const BootstrapAction = (action: 'node.register' | 'token.renew') => SetMetadata(BOOTSTRAP_ACTION, action);

/**
 * Node registration and worker-token renewal: the caller must present the worker bootstrap secret as a bearer credential.
 * A guard, so that it runs before body validation: strangers learn nothing about the body's rules.
 */
@Injectable()
export class BootstrapCredentialGuard implements CanActivate {
  constructor(
    private readonly credentials: WorkerCredentials,
    @Inject(Access) private readonly access: Access,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    const refusal = this.credentials.checkBootstrap(req.get('authorization'));
    if (refusal === null) return true;
    const action = this.reflector.get<string | undefined>(BOOTSTRAP_ACTION, context.getHandler()) ?? 'node.register';
    const nodeId = (req.params as { id?: unknown } | undefined)?.id ?? (req.body as { node_id?: unknown } | undefined)?.node_id;
    await this.access.deny(
      { requestId: requestIdOf(http.getResponse<Response>()), subject: null },
      {
        action,
        // Only a well-formed id goes into the row: the body is unvalidated here.
        resource: typeof nodeId === 'string' && NAME_PATTERN.test(nodeId) ? `node/${nodeId}` : `${req.method} ${(req.route as { path?: string } | undefined)?.path ?? '/v1/internal/nodes'}`,
        targetTenant: null,
        reason: refusal,
      },
    );
    throw new DomainError(ApiErrorCode.InvalidBootstrapCredential, 'node registration needs the worker bootstrap secret as a bearer credential');
  }
}
