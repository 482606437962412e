import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrorCode } from '@mlis/contracts';
import { getTaskSpec, paramsSchemaOf, TASK_TYPES } from '@mlis/runners';
import { RequireScopes } from '../auth/auth.decorators';
import { ApiErrorResponses } from '../common/error-response.dto';
import { TaskTypeListResponseDto } from './task-types.dto';

@ApiTags('jobs')
@Controller('v1/task-types')
export class TaskTypesController {
  // The runners are fixed per build: read their schemas once.
  private readonly list: TaskTypeListResponseDto = {
    items: TASK_TYPES.map((taskType) => getTaskSpec(taskType)!).map((spec) => ({
      task_type: spec.taskType,
      description: spec.description,
      params_schema: paramsSchemaOf(spec) as unknown as Record<string, unknown>,
    })),
  };

  @Get()
  @RequireScopes('jobs:submit')
  @ApiOperation({ summary: 'Task types with the JSON Schema of their params (what the console builds its submit form from)' })
  @ApiOkResponse({ type: TaskTypeListResponseDto })
  @ApiErrorResponses(ApiErrorCode.Unauthorized, ApiErrorCode.Forbidden)
  types(): TaskTypeListResponseDto {
    return this.list;
  }
}
