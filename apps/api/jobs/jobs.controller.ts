import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import type { AppConfig } from '../../../libs/config';
import { ApiErrorCode } from '../../../libs/contracts';
import { anonymousActor } from '../common/actor';
import { ApiErrorResponses } from '../common/error-response.dto';
import { RequestId } from '../common/request-context';
import { uuidParam } from '../common/validation';
import { InjectAppConfig } from '../core/app-config';
import { IDEMPOTENCY_KEY_HEADER, IdempotencyKey, IdempotencyKeyPipe, MAX_IDEMPOTENCY_KEY_LENGTH } from './idempotency-key.pipe';
import { CreateJobDto, JobListQueryDto, JobListResponseDto, JobResponseDto } from './jobs.dto';
import { JobsService } from './jobs.service';

@ApiTags('jobs')
@Controller('v1/jobs')
export class JobsController {
  constructor(
    private readonly jobs: JobsService,
    @InjectAppConfig() private readonly config: AppConfig,
  ) {}

  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Submit a job' })
  @ApiHeader({
    name: IDEMPOTENCY_KEY_HEADER,
    required: false,
    description: `Up to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters; repeating a submission with the same key returns the first job.`,
  })
  @ApiAcceptedResponse({ description: 'Accepted and QUEUED.', type: JobResponseDto })
  @ApiOkResponse({ description: 'Replay of an earlier submission with the same Idempotency-Key.', type: JobResponseDto })
  @ApiErrorResponses(
    ApiErrorCode.ValidationFailed,
    ApiErrorCode.MalformedJson,
    ApiErrorCode.PayloadTooLarge,
    ApiErrorCode.UnknownTaskType,
    ApiErrorCode.InvalidParams,
    ApiErrorCode.Unschedulable,
    ApiErrorCode.IdempotencyConflict,
    ApiErrorCode.DependencyUnavailable,
  )
  async submit(
    @Body() body: CreateJobDto,
    @IdempotencyKey(IdempotencyKeyPipe) idempotencyKey: string | undefined,
    @RequestId() requestId: string,
    @Res({ passthrough: true }) res: Response,
  ): Promise<JobResponseDto> {
    const { job, created } = await this.jobs.submit(anonymousActor(this.config), body, idempotencyKey, requestId);
    if (!created) res.status(HttpStatus.OK);
    return job;
  }

  @Get()
  @ApiOperation({ summary: 'List jobs, newest first' })
  @ApiOkResponse({ type: JobListResponseDto })
  @ApiErrorResponses(ApiErrorCode.ValidationFailed)
  list(@Query() query: JobListQueryDto): Promise<JobListResponseDto> {
    return this.jobs.list(anonymousActor(this.config), query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a job with its assignments' })
  @ApiOkResponse({ type: JobResponseDto })
  @ApiErrorResponses(ApiErrorCode.ValidationFailed, ApiErrorCode.JobNotFound)
  get(@Param('id', uuidParam('id')) id: string): Promise<JobResponseDto> {
    return this.jobs.get(anonymousActor(this.config), id);
  }

  @Post(':id/cancel')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Cancel a job; it ends CANCELLED once its reservation is released' })
  @ApiAcceptedResponse({ description: 'Cancellation requested; the job as it was.', type: JobResponseDto })
  @ApiErrorResponses(
    ApiErrorCode.ValidationFailed,
    ApiErrorCode.JobNotFound,
    ApiErrorCode.JobAlreadyFinished,
    ApiErrorCode.DependencyUnavailable,
  )
  cancel(@Param('id', uuidParam('id')) id: string): Promise<JobResponseDto> {
    return this.jobs.cancel(anonymousActor(this.config), id);
  }
}
