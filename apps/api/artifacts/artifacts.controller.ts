import type { Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { Controller, Delete, Get, HttpCode, HttpStatus, Logger, Param, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiHeader,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiErrorCode, ASSIGNMENT_HEADER } from '@mlis/contracts';
import { AccessTickets } from '../auth/access-tickets';
import { CurrentActor, RequireScopes, TokenIssuedAt, WorkerAccess, type AuthenticatedRequest } from '../auth/auth.decorators';
import type { RequestActor } from '../common/actor';
import { attachmentNamed } from '../common/content-disposition';
import { DomainError } from '../common/domain-error';
import { IdempotencyKey, idempotencyKeyHeaderDoc, IdempotencyKeyPipe } from '../common/idempotency-key';
import { ApiErrorResponses } from '../common/error-response.dto';
import { uuidParam, validationFailed } from '../common/validation';
import { DownloadLinkResponseDto, issueDownloadLink } from '../downloads/download-links';
import { ArtifactListQueryDto, ArtifactListResponseDto, ArtifactResponseDto, UploadArtifactQueryDto } from './artifacts.dto';
import { ArtifactsService, type ArtifactCaller } from './artifacts.service';
import { noneMatch, parseRange } from './byte-range';
import { countArtifactBytes } from '@mlis/metrics';

const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
const CONTENT_TYPE = /^[\w.+-]+\/[\w.+-]+(\s*;\s*[\w.+-]+=("[^"\r\n]*"|[\w.+-]+))*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// The bytes as uploaded, under the Content-Type given then: any media type, and no schema can say more of them
// (an artifact uploaded as application/json need not hold JSON).
const ARTIFACT_BYTES = { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } }, '*/*': {} };

const ID_DOC = { name: 'id', description: 'Artifact id.', format: 'uuid' };

const ASSIGNMENT_DOC = {
  name: ASSIGNMENT_HEADER,
  required: false,
  description:
    'Nodes only, with their worker token instead of a user token: the assignment (uuid) the node acts for. ' +
    'It must be live (PLACED or RUNNING) on that node incarnation (409 assignment_not_live otherwise); a node reads only its ' +
    'job’s artifacts and uploads its job’s result.',
};

/** The caller as the service sees it: a node names the assignment it acts for. */
function callerOf(actor: RequestActor, req: AuthenticatedRequest): ArtifactCaller {
  if (actor.kind !== 'worker') return { actor };
  const assignmentId = req.headers[ASSIGNMENT_HEADER.toLowerCase()];
  if (typeof assignmentId !== 'string' || !UUID.test(assignmentId) || !req.workerBinding) {
    throw validationFailed([{ field: ASSIGNMENT_HEADER, problem: 'must be one assignment id (uuid)' }]);
  }
  return { actor, worker: { ...req.workerBinding, assignmentId: assignmentId.toLowerCase() } };
}

function contentTypeOf(req: Request): string {
  const value = req.headers['content-type']?.trim();
  if (value === undefined || value === '') return DEFAULT_CONTENT_TYPE;
  if (value.length > 255 || !CONTENT_TYPE.test(value)) {
    throw validationFailed([{ field: 'Content-Type', problem: 'must be a media type such as application/octet-stream' }]);
  }
  return value;
}

function declaredLength(req: Request): number | undefined {
  const value = req.headers['content-length'];
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

@ApiTags('artifacts')
@Controller('v1/artifacts')
export class ArtifactsController {
  private readonly logger = new Logger(ArtifactsController.name);

  constructor(
    private readonly artifacts: ArtifactsService,
    private readonly tickets: AccessTickets,
  ) {}

  @Post()
  @RequireScopes('artifacts:write')
  @WorkerAccess()
  @HttpCode(HttpStatus.CREATED)
  @ApiOperation({
    summary: 'Upload an artifact: the request body is the raw bytes, streamed to the store (never buffered whole)',
    description:
      'Content-Type is recorded (default application/octet-stream). Nothing is kept unless the whole body arrives within ' +
      'MLIS_ARTIFACTS_MAX_BYTES (413 payload_too_large) and, when `sha256` is given, hashes to it (400 checksum_mismatch), ' +
      'and the store has room for it (507 insufficient_storage). With an Idempotency-Key, repeating the upload returns the artifact ' +
      'it made (200) and keeps nothing new; its expiry becomes the later of the two.',
  })
  @ApiConsumes('application/octet-stream', '*/*')
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiHeader(ASSIGNMENT_DOC)
  @ApiHeader(
    idempotencyKeyHeaderDoc(
      'repeating an upload with the same key returns the artifact it made (200) while that artifact exists; ' +
        'an upload with other bytes, name or content type gets 409. User tokens only.',
    ),
  )
  @ApiCreatedResponse({ type: ArtifactResponseDto })
  @ApiOkResponse({ description: 'Repeat of an earlier upload with the same Idempotency-Key: its artifact.', type: ArtifactResponseDto })
  @ApiErrorResponses(
    ApiErrorCode.Unauthorized,
    ApiErrorCode.Forbidden,
    ApiErrorCode.ValidationFailed,
    ApiErrorCode.ChecksumMismatch,
    ApiErrorCode.TenantNotFound,
    ApiErrorCode.IdempotencyConflict,
    ApiErrorCode.PayloadTooLarge,
    ApiErrorCode.InsufficientStorage,
    ApiErrorCode.UploadAbandoned,
    ApiErrorCode.AssignmentNotLive,
  )
  async upload(
    @CurrentActor() actor: RequestActor,
    @Req() req: AuthenticatedRequest,
    @Res({ passthrough: true }) res: Response,
    @Query() query: UploadArtifactQueryDto,
    @IdempotencyKey(IdempotencyKeyPipe) idempotencyKey: string | undefined,
  ): Promise<ArtifactResponseDto> {
    // The store reads a pass-through, not the request: a refusal mid-body must not destroy the socket
    // before the error response goes out. A client gone mid-upload fails it, and the upload keeps nothing.
    const body = countArtifactBytes('in');
    req.pipe(body);
    finished(req).catch((error: unknown) => body.destroy(error instanceof Error ? error : new Error(String(error))));
    try {
      const { artifact, created } = await this.artifacts.upload(callerOf(actor, req), {
        body,
        contentType: contentTypeOf(req),
        name: query.name ?? null,
        expectedSha256: query.sha256,
        expiresInSeconds: query.expires_in_seconds,
        declaredBytes: declaredLength(req),
        idempotencyKey,
      });
      if (!created) res.status(HttpStatus.OK);
      return artifact;
    } catch (error) {
      // Stop feeding the store; the error response closes the connection if the body did not end (ApiExceptionFilter).
      req.unpipe(body);
      throw error;
    }
  }

  @Get()
  @RequireScopes('artifacts:read')
  @ApiOperation({ summary: "List the caller's tenant's artifacts, newest first" })
  @ApiOkResponse({ type: ArtifactListResponseDto })
  @ApiErrorResponses(ApiErrorCode.Unauthorized, ApiErrorCode.Forbidden, ApiErrorCode.ValidationFailed)
  list(@CurrentActor() actor: RequestActor, @Query() query: ArtifactListQueryDto): Promise<ArtifactListResponseDto> {
    return this.artifacts.list(actor, query);
  }

  @Get(':id/meta')
  @RequireScopes('artifacts:read')
  @WorkerAccess()
  @ApiParam(ID_DOC)
  @ApiOperation({ summary: "An artifact's metadata" })
  @ApiHeader(ASSIGNMENT_DOC)
  @ApiOkResponse({ type: ArtifactResponseDto })
  @ApiErrorResponses(
    ApiErrorCode.Unauthorized,
    ApiErrorCode.Forbidden,
    ApiErrorCode.ValidationFailed,
    ApiErrorCode.ArtifactNotFound,
    ApiErrorCode.AssignmentNotLive,
  )
  meta(@CurrentActor() actor: RequestActor, @Req() req: AuthenticatedRequest, @Param('id', uuidParam('id')) id: string): Promise<ArtifactResponseDto> {
    return this.artifacts.meta(callerOf(actor, req), id);
  }

  @Get(':id')
  @RequireScopes('artifacts:read')
  @WorkerAccess()
  @ApiOperation({
    summary: "Download an artifact's bytes, streamed",
    description:
      'Sends Content-Type (as uploaded), Content-Length, ETag ("<sha256>") and Accept-Ranges: bytes. One `Range: bytes=a-b` ' +
      '(or a-, or -n) answers 206 with Content-Range, 416 when it starts past the end; If-None-Match with the ETag answers 304.',
  })
  @ApiHeader(ASSIGNMENT_DOC)
  @ApiParam(ID_DOC)
  @ApiHeader({ name: 'Range', required: false, description: 'One byte range, e.g. bytes=0-1023.' })
  @ApiHeader({ name: 'If-None-Match', required: false, description: 'The ETag of a copy the caller has.' })
  @ApiOkResponse({ description: 'The whole artifact, with the Content-Type it was uploaded with.', content: ARTIFACT_BYTES })
  @ApiResponse({ status: HttpStatus.PARTIAL_CONTENT, description: 'The requested range.', content: ARTIFACT_BYTES })
  @ApiResponse({ status: HttpStatus.NOT_MODIFIED, description: 'If-None-Match matched the ETag.' })
  @ApiErrorResponses(
    ApiErrorCode.Unauthorized,
    ApiErrorCode.Forbidden,
    ApiErrorCode.ValidationFailed,
    ApiErrorCode.ArtifactNotFound,
    ApiErrorCode.RangeNotSatisfiable,
    ApiErrorCode.AssignmentNotLive,
  )
  async download(
    @CurrentActor() actor: RequestActor,
    @Req() req: AuthenticatedRequest,
    @Res() res: Response,
    @Param('id', uuidParam('id')) id: string,
  ): Promise<void> {
    const record = await this.artifacts.readable(callerOf(actor, req), id);
    const etag = `"${record.sha256}"`;
    res.setHeader('ETag', etag);
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Cache-Control', 'private, no-cache');
    if (noneMatch(req.headers['if-none-match'], etag)) {
      res.status(HttpStatus.NOT_MODIFIED).end();
      return;
    }
    const range = parseRange(req.headers.range, record.sizeBytes);
    if (range.kind === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${record.sizeBytes}`);
      throw new DomainError(ApiErrorCode.RangeNotSatisfiable, `the range ${String(req.headers.range)} is outside the artifact's ${record.sizeBytes} bytes`);
    }
    const stream: Readable = await this.artifacts.open(record, range.kind === 'range' ? range.range : undefined);
    res.setHeader('Content-Type', record.contentType);
    if (record.name !== null) res.setHeader('Content-Disposition', attachmentNamed(record.name));
    if (range.kind === 'range') {
      res.status(HttpStatus.PARTIAL_CONTENT);
      res.setHeader('Content-Range', `bytes ${range.range.start}-${range.range.end}/${record.sizeBytes}`);
      res.setHeader('Content-Length', String(range.range.end - range.range.start + 1));
    } else {
      res.status(HttpStatus.OK);
      res.setHeader('Content-Length', String(record.sizeBytes));
    }
    if (req.method === 'HEAD') {
      stream.destroy();
      res.end();
      return;
    }
    try {
      await pipeline(stream, countArtifactBytes('out'), res);
    } catch (error) {
      // Usually the client went away; the status line is out, so all that is left is to log it.
      this.logger.warn({ msg: 'artifact download ended early', artifact_id: id, request_id: actor.requestId, error: String(error) });
    }
  }

  @Post(':id/download-link')
  @HttpCode(HttpStatus.CREATED)
  @RequireScopes('artifacts:read')
  @ApiOperation({
    summary: 'A single-use, 30-second link that downloads the artifact without a bearer token, for a browser to save it to disk (ADR 0063)',
  })
  @ApiParam(ID_DOC)
  @ApiCreatedResponse({ type: DownloadLinkResponseDto })
  @ApiErrorResponses(ApiErrorCode.Unauthorized, ApiErrorCode.Forbidden, ApiErrorCode.ValidationFailed, ApiErrorCode.ArtifactNotFound)
  async downloadLink(
    @CurrentActor() actor: RequestActor,
    @TokenIssuedAt() tokenIssuedAt: number | null,
    @Param('id', uuidParam('id')) id: string,
  ): Promise<DownloadLinkResponseDto> {
    // Refused here, where the console can show why, rather than by a download the browser reports as failed.
    await this.artifacts.readable({ actor }, id);
    return issueDownloadLink(this.tickets, actor, tokenIssuedAt, { kind: 'artifact', id });
  }

  @Delete(':id')
  @RequireScopes('artifacts:write')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Delete an artifact (its bytes too when no other artifact has the same content)' })
  @ApiParam(ID_DOC)
  @ApiNoContentResponse({ description: 'Deleted.' })
  @ApiErrorResponses(
    ApiErrorCode.Unauthorized,
    ApiErrorCode.Forbidden,
    ApiErrorCode.ValidationFailed,
    ApiErrorCode.ArtifactNotFound,
    ApiErrorCode.ArtifactInUse,
  )
  remove(@CurrentActor() actor: RequestActor, @Param('id', uuidParam('id')) id: string): Promise<void> {
    return this.artifacts.remove(actor, id);
  }
}
