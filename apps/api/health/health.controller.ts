import { Controller, Get, HttpStatus, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../auth/auth.decorators';
import { ApiErrorResponses } from '../common/error-response.dto';
import { LiveResponseDto, ReadyResponseDto } from './health.dto';
import { HealthService } from './health.service';

// Probes run without credentials (load balancers, orchestrators).
@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  @Get('live')
  @ApiOperation({ summary: 'The process is up' })
  @ApiOkResponse({ type: LiveResponseDto })
  @ApiErrorResponses()
  live(): LiveResponseDto {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'Postgres and Temporal answer' })
  @ApiOkResponse({ type: ReadyResponseDto })
  @ApiServiceUnavailableResponse({ description: 'A dependency failed; checks says which.', type: ReadyResponseDto })
  @ApiErrorResponses()
  async ready(@Res({ passthrough: true }) res: Response): Promise<ReadyResponseDto> {
    return this.answer(res, await this.health.ready());
  }

  @Get('ready/full')
  @ApiOperation({ summary: 'Ready, and every configured worker group has a live node' })
  @ApiOkResponse({ type: ReadyResponseDto })
  @ApiServiceUnavailableResponse({ description: 'A dependency or a worker group is down; checks says which.', type: ReadyResponseDto })
  @ApiErrorResponses()
  async readyFull(@Res({ passthrough: true }) res: Response): Promise<ReadyResponseDto> {
    return this.answer(res, await this.health.readyFull());
  }

  private answer(res: Response, report: ReadyResponseDto): ReadyResponseDto {
    res.status(report.status === 'ok' ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE);
    return report;
  }
}
