import { Controller, Get, HttpCode, HttpStatus, Logger, Post, Query, Req, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiErrorCode } from '@mlis/contracts';
import { CurrentActor, Public, RequireScopes, TokenIssuedAt } from '../auth/auth.decorators';
import { TokenRevocations } from '../auth/token-revocations';
import type { RequestActor } from '../common/actor';
import { DomainError } from '../common/domain-error';
import { Draining } from '../core/draining';
import { ApiErrorResponses } from '../common/error-response.dto';
import { StreamService } from './stream.service';
import { AccessTickets, refuseHeadOfTicketRoute } from '../auth/access-tickets';
import { STREAM_EVENT_SCHEMA, StreamQueryDto, StreamTicketResponseDto } from './stream.dto';

@ApiTags('stream')
@Controller('v1/stream')
export class StreamController {
  private readonly logger = new Logger('stream');

  constructor(
    private readonly tickets: AccessTickets,
    private readonly stream: StreamService,
    private readonly draining: Draining,
    private readonly revocations: TokenRevocations,
  ) {}

  @Post('tickets')
  @HttpCode(HttpStatus.CREATED)
  @RequireScopes('jobs:read')
  @ApiOperation({ summary: 'A single-use, 30-second ticket to open the change stream with (EventSource cannot send a bearer token)' })
  @ApiCreatedResponse({ type: StreamTicketResponseDto })
  @ApiErrorResponses(ApiErrorCode.Unauthorized, ApiErrorCode.Forbidden)
  async issue(@CurrentActor() actor: RequestActor, @TokenIssuedAt() tokenIssuedAt: number | null): Promise<StreamTicketResponseDto> {
    const { ticket, expiresAt } = await this.tickets.issue(actor, tokenIssuedAt, null);
    return { ticket, expires_at: expiresAt.toISOString() };
  }

  // Public to the bearer guard: the ticket is this route's credential.
  @Get()
  @Public()
  @ApiOperation({
    summary:
      "Server-sent events: `job` ({id, state, updated_at}) for the ticket holder's tenant's jobs, `node` ({node_id, status}) for node changes when the ticket holder has admin:workers, `queue` ({cycle_at}) after each scheduling cycle (queue positions and wait reasons may have changed; control runs one every MLIS_SCHEDULER_CYCLE_INTERVAL_SECONDS even when nothing waits), `artifact` ({changed_at}) when an artifact of the tenant was added or deleted and the ticket holder has artifacts:read; a comment every 15 s keeps it open",
  })
  @ApiOkResponse({ description: 'An event stream.', content: { 'text/event-stream': { schema: STREAM_EVENT_SCHEMA } } })
  @ApiErrorResponses(ApiErrorCode.Unauthorized, ApiErrorCode.ValidationFailed)
  async open(@Query() query: StreamQueryDto, @Req() req: Request, @Res() res: Response): Promise<void> {
    refuseHeadOfTicketRoute(req, res);
    const redeemed = await this.tickets.redeem(query.ticket);
    // A download's ticket (ADR 0063) opens that download only.
    if (!redeemed || redeemed.opens !== null) throw new DomainError(ApiErrorCode.Unauthorized, 'stream ticket unknown, used or expired: get a new one');
    const { actor, tokenIssuedAt } = redeemed;
    if (this.revocations.isRevoked(actor.tenantId, actor.subject, tokenIssuedAt)) {
      throw new DomainError(ApiErrorCode.Unauthorized, 'the token this stream ticket was issued with was revoked: sign in again');
    }
    res.status(HttpStatus.OK);
    res.setHeader('Content-Type', 'text/event-stream');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write('retry: 10000\n\n');
    const audience = { tenantId: actor.tenantId, nodes: actor.scopes.has('admin:workers'), artifacts: actor.scopes.has('artifacts:read') };
    const stop = this.stream.follow(audience, (event, data) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`), (error) => {
      this.logger.warn({ msg: 'stream ended', error: String(error) });
      res.end();
    });
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    // The API's shutdown ends the stream; the console opens another with a new ticket, on another replica.
    this.draining.onDrain(res, () => void res.end());
    // So does a revocation of the token the ticket was issued with (ADR 0037): a new ticket needs a valid token.
    const unwatch = this.revocations.watch(actor.tenantId, actor.subject, tokenIssuedAt, () => {
      this.logger.log({ msg: 'stream ended: its token was revoked', tenant: actor.tenantId, subject: actor.subject });
      res.end();
    });
    req.on('close', () => {
      clearInterval(ping);
      stop();
      unwatch();
    });
  }
}
