import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Controller, Get, HttpStatus, Logger, Query, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiErrorCode } from '@mlis/contracts';
import { countArtifactBytes } from '@mlis/metrics';
import { AccessTickets, refuseHeadOfTicketRoute } from '../auth/access-tickets';
import { Public } from '../auth/auth.decorators';
import { TokenRevocations } from '../auth/token-revocations';
import { ArtifactsService } from '../artifacts/artifacts.service';
import type { RequestActor } from '../common/actor';
import { attachmentNamed } from '../common/content-disposition';
import { DomainError } from '../common/domain-error';
import { ApiErrorResponses } from '../common/error-response.dto';
import { requestIdOf } from '../common/request-context';
import { JobsService } from '../jobs/jobs.service';
import { DownloadQueryDto, downloadTargetOf, type DownloadTarget } from './download-links';

interface DownloadFile {
  body: Readable;
  /** An artifact's bytes count into mlis_artifact_bytes_total here; a result's are counted where they are read. */
  countBytes: boolean;
  sizeBytes: number;
  contentType: string;
  name: string;
}

/**
 * GET /v1/downloads?ticket=: what a download link opens, streamed as an attachment (ADR 0063). A browser saves it to
 * disk itself, where a download fetched with the bearer token would be held whole in the page's memory first.
 */
@ApiTags('downloads')
@Controller('v1/downloads')
export class DownloadsController {
  private readonly logger = new Logger('downloads');

  constructor(
    private readonly tickets: AccessTickets,
    private readonly revocations: TokenRevocations,
    private readonly artifacts: ArtifactsService,
    private readonly jobs: JobsService,
  ) {}

  // Public to the bearer guard: the ticket is this route's credential.
  @Get()
  @Public()
  @ApiOperation({
    summary: 'Download what a link from POST /v1/artifacts/{id}/download-link or POST /v1/jobs/{id}/result/download-link opens',
    description:
      'Once, within 30 s of the link; no Authorization header. Sends Content-Type, Content-Length and Content-Disposition: ' +
      'attachment with the artifact’s name (result-<job id>.json for a result). Access is checked again, as the holder ' +
      'of the token the link was issued with: a revoked token, or a deleted artifact, is refused.',
  })
  @ApiOkResponse({ description: 'The bytes.', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } }, '*/*': {} } })
  @ApiErrorResponses(
    ApiErrorCode.Unauthorized,
    ApiErrorCode.ValidationFailed,
    ApiErrorCode.ArtifactNotFound,
    ApiErrorCode.JobNotFound,
    ApiErrorCode.ResultNotAvailable,
  )
  async download(@Query() query: DownloadQueryDto, @Req() req: Request, @Res() res: Response): Promise<void> {
    refuseHeadOfTicketRoute(req, res);
    const redeemed = await this.tickets.redeem(query.ticket);
    const target = downloadTargetOf(redeemed?.opens ?? null);
    if (!redeemed || !target) throw new DomainError(ApiErrorCode.Unauthorized, 'download link unknown, used or expired: ask for a new one');
    const { actor, tokenIssuedAt } = redeemed;
    if (this.revocations.isRevoked(actor.tenantId, actor.subject, tokenIssuedAt)) {
      throw new DomainError(ApiErrorCode.Unauthorized, 'the token this download link was issued with was revoked: sign in again');
    }
    const file = await this.open({ ...actor, requestId: requestIdOf(res) }, target);
    res.status(HttpStatus.OK);
    res.setHeader('Content-Type', file.contentType);
    res.setHeader('Content-Length', String(file.sizeBytes));
    res.setHeader('Content-Disposition', attachmentNamed(file.name));
    res.setHeader('Cache-Control', 'no-store');
    try {
      if (file.countBytes) await pipeline(file.body, countArtifactBytes('out'), res);
      else await pipeline(file.body, res);
    } catch (error) {
      // Usually the browser went away; the status line is out, so all that is left is to log it.
      this.logger.warn({ msg: 'download ended early', target: `${target.kind}/${target.id}`, request_id: requestIdOf(res), error: String(error) });
    }
  }

  private async open(actor: RequestActor, target: DownloadTarget): Promise<DownloadFile> {
    if (target.kind === 'job-result') {
      const { body, sizeBytes } = await this.jobs.result(actor, target.id);
      return { body, countBytes: false, sizeBytes, contentType: 'application/json', name: `result-${target.id}.json` };
    }
    const record = await this.artifacts.readable({ actor }, target.id);
    const body = await this.artifacts.open(record);
    return { body, countBytes: true, sizeBytes: record.sizeBytes, contentType: record.contentType, name: record.name ?? `artifact-${target.id}` };
  }
}
