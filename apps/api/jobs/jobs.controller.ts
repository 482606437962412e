import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query, Res, StreamableFile } from '@nestjs/common';
import { ApiAcceptedResponse, ApiCreatedResponse, ApiHeader, ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiErrorCode } from '@mlis/contracts';
import { AccessTickets } from '../auth/access-tickets';
import { CurrentActor, RequireScopes, TokenIssuedAt } from '../auth/auth.decorators';
import type { RequestActor } from '../common/actor';
import { ApiErrorResponses, asUnresolvableReference } from '../common/error-response.dto';
import { RequestId } from '../common/request-context';
import { uuidParam } from '../common/validation';
import { IdempotencyKey, idempotencyKeyHeaderDoc, IdempotencyKeyPipe } from '../common/idempotency-key';
import { Draining } from '../core/draining';
import { DownloadLinkResponseDto, issueDownloadLink } from '../downloads/download-links';
import { CreateJobDto, JobListQueryDto, JobListResponseDto, JobResponseDto, JobWaitQueryDto } from './jobs.dto';
import { JobsService } from './jobs.service';

@ApiTags('jobs')
@Controller('v1/jobs')
export class JobsController {
  constructor(
    private readonly jobs: JobsService,
    private readonly draining: Draining,
    private readonly tickets: AccessTickets,
  ) {}

  @Post()
  @RequireScopes('jobs:submit')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Submit a job' })
  @ApiHeader(
    idempotencyKeyHeaderDoc('repeating a submission with the same key returns the first job (200), a different request with it gets 409.'),
  )
  @ApiAcceptedResponse({ description: 'Accepted and QUEUED.', type: JobResponseDto })
  @ApiOkResponse({ description: 'Replay of an earlier submission with the same Idempotency-Key.', type: JobResponseDto })
  @ApiErrorResponses(
    ApiErrorCode.Unauthorized,
    ApiErrorCode.Forbidden,
    ApiErrorCode.ValidationFailed,
    ApiErrorCode.MalformedJson,
    ApiErrorCode.PayloadTooLarge,
    ApiErrorCode.UnknownTaskType,
    ApiErrorCode.UnknownPriorityClass,
    ApiErrorCode.InvalidParams,
    ApiErrorCode.Unschedulable,
    asUnresolvableReference(ApiErrorCode.ArtifactNotFound),
    ApiErrorCode.TenantNotFound,
    ApiErrorCode.IdempotencyConflict,
    ApiErrorCode.RateLimited,
    ApiErrorCode.QuotaExceeded,
    ApiErrorCode.DependencyUnavailable,
    ApiErrorCode.InsufficientStorage,
    ApiErrorCode.UploadAbandoned,
  )
  async submit(
    @CurrentActor() actor: RequestActor,
    @Body() body: CreateJobDto,
    @IdempotencyKey(IdempotencyKeyPipe) idempotencyKey: string | undefined,
    @RequestId() requestId: string,
    @Res({ passthrough: true }) res: Response,
  ): Promise<JobResponseDto> {
    const { job, created } = await this.jobs.submit(actor, body, idempotencyKey, requestId);
    if (!created) res.status(HttpStatus.OK);
    return job;
  }

  @Get()
  @RequireScopes('jobs:read')
  @ApiOperation({ summary: "List the caller's tenant's jobs, newest first (every tenant's, or ?tenant=, with the cross-tenant capability)" })
  @ApiOkResponse({ type: JobListResponseDto })
  @ApiErrorResponses(ApiErrorCode.Unauthorized, ApiErrorCode.Forbidden, ApiErrorCode.ValidationFailed)
  list(@CurrentActor() actor: RequestActor, @Query() query: JobListQueryDto): Promise<JobListResponseDto> {
    return this.jobs.list(actor, query);
  }

  @Get(':id')
  @RequireScopes('jobs:read')
  @ApiOperation({ summary: 'Get a job with its assignments; with ?wait=, once it is final or the wait ends' })
  @ApiParam({ name: 'id', description: 'Job id.', format: 'uuid' })
  @ApiOkResponse({ type: JobResponseDto })
  @ApiErrorResponses(ApiErrorCode.Unauthorized, ApiErrorCode.Forbidden, ApiErrorCode.ValidationFailed, ApiErrorCode.JobNotFound)
  get(
    @CurrentActor() actor: RequestActor,
    @Param('id', uuidParam('id')) id: string,
    @Query() query: JobWaitQueryDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<JobResponseDto> {
    if (!query.wait) return this.jobs.get(actor, id);
    // The client hanging up ends the wait (nothing is left waiting for a response nobody reads), and the API's
    // shutdown answers it at once.
    const ended = new AbortController();
    const end = (): void => ended.abort();
    this.draining.onDrain(res, end);
    res.on('close', end);
    return this.jobs.waitForFinal(actor, id, query.wait, ended.signal);
  }

  @Get(':id/result')
  @RequireScopes('jobs:read')
  @ApiOperation({ summary: "The job's whole result JSON, whether it is kept inline or as its result artifact (streamed)" })
  @ApiParam({ name: 'id', description: 'Job id.', format: 'uuid' })
  @ApiProduces('application/json')
  @ApiOkResponse({ description: "The runner's result, exactly as it returned it.", schema: { type: 'object', additionalProperties: true } })
  @ApiErrorResponses(
    ApiErrorCode.Unauthorized,
    ApiErrorCode.Forbidden,
    ApiErrorCode.ValidationFailed,
    ApiErrorCode.JobNotFound,
    ApiErrorCode.ResultNotAvailable,
    ApiErrorCode.ArtifactNotFound,
  )
  async result(@CurrentActor() actor: RequestActor, @Param('id', uuidParam('id')) id: string): Promise<StreamableFile> {
    const { body, sizeBytes } = await this.jobs.result(actor, id);
    return new StreamableFile(body, { type: 'application/json', length: sizeBytes });
  }

  @Post(':id/result/download-link')
  @HttpCode(HttpStatus.CREATED)
  @RequireScopes('jobs:read')
  @ApiOperation({
    summary: "A single-use, 30-second link that downloads the job's whole result without a bearer token, for a browser to save it to disk (ADR 0063)",
  })
  @ApiParam({ name: 'id', description: 'Job id.', format: 'uuid' })
  @ApiCreatedResponse({ type: DownloadLinkResponseDto })
  @ApiErrorResponses(
    ApiErrorCode.Unauthorized,
    ApiErrorCode.Forbidden,
    ApiErrorCode.ValidationFailed,
    ApiErrorCode.JobNotFound,
    ApiErrorCode.ResultNotAvailable,
  )
  async resultDownloadLink(
    @CurrentActor() actor: RequestActor,
    @TokenIssuedAt() tokenIssuedAt: number | null,
    @Param('id', uuidParam('id')) id: string,
  ): Promise<DownloadLinkResponseDto> {
    await this.jobs.succeeded(actor, id);
    return issueDownloadLink(this.tickets, actor, tokenIssuedAt, { kind: 'job-result', id });
  }

  @Post(':id/cancel')
  @RequireScopes('jobs:cancel')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Cancel a job; it ends CANCELLED once its reservation is released' })
  @ApiParam({ name: 'id', description: 'Job id.', format: 'uuid' })
  @ApiAcceptedResponse({ description: 'Cancellation requested; the job as it was.', type: JobResponseDto })
  @ApiErrorResponses(
    ApiErrorCode.Unauthorized,
    ApiErrorCode.Forbidden,
    ApiErrorCode.ValidationFailed,
    ApiErrorCode.JobNotFound,
    ApiErrorCode.JobAlreadyFinished,
    ApiErrorCode.DependencyUnavailable,
  )
  cancel(@CurrentActor() actor: RequestActor, @Param('id', uuidParam('id')) id: string): Promise<JobResponseDto> {
    return this.jobs.cancel(actor, id);
  }
}
