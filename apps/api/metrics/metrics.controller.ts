import { Controller, Get, Header, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../auth/auth.decorators';
import { ApiErrorResponses } from '../common/error-response.dto';
import { MetricsService } from './metrics.service';

// Scraped by Prometheus without credentials, like the health probes: aggregates only, no tenant ids,
// no job content. Restrict it at the network (the API binds 127.0.0.1 by default).
@ApiTags('metrics')
@Public()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @ApiOperation({ summary: 'Prometheus metrics: jobs by state, waiting jobs by reason, scheduling decisions, capacity' })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus text exposition format.' })
  @ApiErrorResponses()
  @Header('Cache-Control', 'no-store')
  async scrape(@Res({ passthrough: true }) res: Response): Promise<string> {
    const body = await this.metrics.render();
    res.type(this.metrics.contentType);
    return body;
  }
}
