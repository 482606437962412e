import { ApiProperty } from '@nestjs/swagger';

export class TaskTypeDto {
  @ApiProperty({ description: 'Task type, as submitted in task_type.', example: 'sleep' })
  task_type: string;

  @ApiProperty({ description: 'What the runner does.' })
  description: string;

  @ApiProperty({
    description:
      "JSON Schema of params, read from the runner's own checks (type, bounds, defaults). Cross-field rules (inference: text or inputs, not both) are checked at submission: a 400 invalid_params names the field.",
    type: 'object',
    additionalProperties: true,
    example: { type: 'object', additionalProperties: false, properties: { seconds: { type: 'number', exclusiveMinimum: 0, maximum: 86400, default: 1 } } },
  })
  params_schema: Record<string, unknown>;
}

export class TaskTypeListResponseDto {
  @ApiProperty({ description: 'Every task type this build runs.', type: [TaskTypeDto] })
  items: TaskTypeDto[];
}
