import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { AppConfig } from '../../../libs/config';
import { anonymousActor } from '../common/actor';
import { ApiErrorResponses } from '../common/error-response.dto';
import { InjectAppConfig } from '../core/app-config';
import { OverviewResponseDto } from './ui.dto';
import { UiService } from './ui.service';

@ApiTags('ui')
@Controller('ui/api')
export class UiController {
  constructor(
    private readonly ui: UiService,
    @InjectAppConfig() private readonly config: AppConfig,
  ) {}

  @Get('overview')
  @ApiOperation({ summary: 'Counts, capacity and recent jobs for the console' })
  @ApiOkResponse({ type: OverviewResponseDto })
  @ApiErrorResponses()
  overview(): Promise<OverviewResponseDto> {
    return this.ui.overview(anonymousActor(this.config));
  }
}
