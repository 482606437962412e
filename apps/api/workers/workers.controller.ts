import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrorCode } from '../../../libs/contracts';
import { ApiErrorResponses } from '../common/error-response.dto';
import {
  HeartbeatDto,
  HeartbeatResponseDto,
  NodeIdParamDto,
  NodeListResponseDto,
  RegisterNodeDto,
  RegisterNodeResponseDto,
} from './workers.dto';
import { WorkersService } from './workers.service';

@ApiTags('workers')
@Controller('v1/workers')
export class WorkersController {
  constructor(private readonly workers: WorkersService) {}

  @Get()
  @ApiOperation({ summary: 'List registered nodes with capacity and usage' })
  @ApiOkResponse({ type: NodeListResponseDto })
  @ApiErrorResponses()
  list(): Promise<NodeListResponseDto> {
    return this.workers.list();
  }
}

/** Called by executor nodes, not by users. */
@ApiTags('internal')
@Controller('v1/internal/nodes')
export class InternalNodesController {
  constructor(private readonly workers: WorkersService) {}

  @Post('register')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Register a node (again): returns its incarnation and task queue' })
  @ApiOkResponse({ type: RegisterNodeResponseDto })
  @ApiErrorResponses(
    ApiErrorCode.ValidationFailed,
    ApiErrorCode.MalformedJson,
    ApiErrorCode.PayloadTooLarge,
    ApiErrorCode.UnknownWorkerGroup,
  )
  register(@Body() body: RegisterNodeDto): Promise<RegisterNodeResponseDto> {
    return this.workers.register(body);
  }

  @Post(':id/heartbeat')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Node liveness; 409 means a newer incarnation exists (exit), 404 means register again' })
  @ApiOkResponse({ type: HeartbeatResponseDto })
  @ApiErrorResponses(
    ApiErrorCode.ValidationFailed,
    ApiErrorCode.MalformedJson,
    ApiErrorCode.NodeSuperseded,
    ApiErrorCode.NodeNotFound,
  )
  heartbeat(@Param() params: NodeIdParamDto, @Body() body: HeartbeatDto): Promise<HeartbeatResponseDto> {
    return this.workers.heartbeat(params.id, body);
  }
}
