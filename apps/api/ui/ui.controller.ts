import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrorCode } from '@mlis/contracts';
import type { AppConfig } from '@mlis/config';
import { CurrentActor, Public, RequireScopes } from '../auth/auth.decorators';
import type { RequestActor } from '../common/actor';
import { ApiErrorResponses } from '../common/error-response.dto';
import { InjectAppConfig } from '../core/app-config';
import { ConsoleConfigResponseDto, OverviewResponseDto, QueueResponseDto } from './ui.dto';
import { UiService } from './ui.service';

@ApiTags('ui')
@Controller('ui/api')
export class UiController {
  constructor(
    private readonly ui: UiService,
    @InjectAppConfig() private readonly config: AppConfig,
  ) {}

  @Get('console-config')
  @Public()
  @ApiOperation({ summary: 'What the console needs before sign-in: whether dev sign-in exists, where the Temporal Web UI is' })
  @ApiOkResponse({ type: ConsoleConfigResponseDto })
  @ApiErrorResponses()
  consoleConfig(): ConsoleConfigResponseDto {
    return {
      dev_sign_in: this.config.console.devSignIn,
      temporal_ui_url: this.config.console.temporalUiUrl,
      temporal_namespace: this.config.temporal.namespace,
      priority_classes: [...this.config.scheduling.priorityClasses].sort((a, b) => a.priority - b.priority).map((c) => c.name),
    };
  }

  @Get('overview')
  @RequireScopes('jobs:read')
  @ApiOperation({ summary: "The caller's tenant's job counts and recent jobs, and cluster capacity, for the console" })
  @ApiOkResponse({ type: OverviewResponseDto })
  @ApiErrorResponses(ApiErrorCode.Unauthorized, ApiErrorCode.Forbidden)
  overview(@CurrentActor() actor: RequestActor): Promise<OverviewResponseDto> {
    return this.ui.overview(actor);
  }

  @Get('queue')
  @RequireScopes('admin:workers')
  @ApiOperation({ summary: "Every tenant's waiting jobs in scheduling order per worker group, and each tenant's share against its weight and quotas (scope admin:workers)" })
  @ApiOkResponse({ type: QueueResponseDto })
  @ApiErrorResponses(ApiErrorCode.Unauthorized, ApiErrorCode.Forbidden)
  queue(): Promise<QueueResponseDto> {
    return this.ui.queue();
  }
}
