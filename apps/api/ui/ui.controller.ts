import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrorCode } from '../../../libs/contracts';
import { CurrentActor, RequireScopes } from '../auth/auth.decorators';
import type { RequestActor } from '../common/actor';
import { ApiErrorResponses } from '../common/error-response.dto';
import { OverviewResponseDto } from './ui.dto';
import { UiService } from './ui.service';

@ApiTags('ui')
@Controller('ui/api')
export class UiController {
  constructor(private readonly ui: UiService) {}

  @Get('overview')
  @RequireScopes('jobs:read')
  @ApiOperation({ summary: "The caller's tenant's job counts and recent jobs, and cluster capacity, for the console" })
  @ApiOkResponse({ type: OverviewResponseDto })
  @ApiErrorResponses(ApiErrorCode.Unauthorized, ApiErrorCode.Forbidden)
  overview(@CurrentActor() actor: RequestActor): Promise<OverviewResponseDto> {
    return this.ui.overview(actor);
  }
}
