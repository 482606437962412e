import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrorCode } from '@mlis/contracts';
import { CurrentActor, Public, RequireScopes, WorkerRoute } from '../auth/auth.decorators';
import type { RequestActor } from '../common/actor';
import { ApiErrorResponses } from '../common/error-response.dto';
import { RequestId } from '../common/request-context';
import { BootstrapAction, BootstrapCredentialGuard } from './bootstrap-credential.guard';
import {
  AssignmentStartedDto,
  AssignmentStartedResponseDto,
  HeartbeatDto,
  HeartbeatResponseDto,
  NodeAssignmentParamDto,
  NodeIdParamDto,
  NodeListResponseDto,
  NodeResponseDto,
  RegisterNodeDto,
  RegisterNodeResponseDto,
  WorkerGroupListResponseDto,
  WorkerTokenResponseDto,
} from './workers.dto';
import { WorkersService } from './workers.service';

@ApiTags('workers')
@Controller('v1/workers')
export class WorkersController {
  constructor(private readonly workers: WorkersService) {}

  @Get()
  @RequireScopes('admin:workers')
  @ApiOperation({ summary: 'List registered nodes with capacity and usage (scope admin:workers)' })
  @ApiOkResponse({ type: NodeListResponseDto })
  @ApiErrorResponses(ApiErrorCode.Unauthorized, ApiErrorCode.Forbidden)
  list(): Promise<NodeListResponseDto> {
    return this.workers.list();
  }

  @Post(':id/drain')
  @HttpCode(HttpStatus.OK)
  @RequireScopes('admin:workers')
  @ApiOperation({ summary: 'Drain a node: no new placements, its running work finishes (scope admin:workers)' })
  @ApiOkResponse({ type: NodeResponseDto })
  @ApiErrorResponses(ApiErrorCode.Unauthorized, ApiErrorCode.Forbidden, ApiErrorCode.ValidationFailed, ApiErrorCode.NodeNotFound, ApiErrorCode.NodeDead)
  drain(@Param() params: NodeIdParamDto, @CurrentActor() actor: RequestActor): Promise<NodeResponseDto> {
    return this.workers.setDraining(params.id, true, actor);
  }

  @Post(':id/undrain')
  @HttpCode(HttpStatus.OK)
  @RequireScopes('admin:workers')
  @ApiOperation({ summary: 'Undrain a node: it takes new placements again (scope admin:workers)' })
  @ApiOkResponse({ type: NodeResponseDto })
  @ApiErrorResponses(ApiErrorCode.Unauthorized, ApiErrorCode.Forbidden, ApiErrorCode.ValidationFailed, ApiErrorCode.NodeNotFound, ApiErrorCode.NodeDead)
  undrain(@Param() params: NodeIdParamDto, @CurrentActor() actor: RequestActor): Promise<NodeResponseDto> {
    return this.workers.setDraining(params.id, false, actor);
  }
}

@ApiTags('workers')
@Controller('v1/worker-groups')
export class WorkerGroupsController {
  constructor(private readonly workers: WorkersService) {}

  @Get()
  @RequireScopes('admin:workers')
  @ApiOperation({ summary: 'List worker groups: nodes by status, capacity and usage of the live nodes, GPU models (scope admin:workers)' })
  @ApiOkResponse({ type: WorkerGroupListResponseDto })
  @ApiErrorResponses(ApiErrorCode.Unauthorized, ApiErrorCode.Forbidden)
  list(): Promise<WorkerGroupListResponseDto> {
    return this.workers.listGroups();
  }
}

/** Called by executor nodes, not by users. */
@ApiTags('internal')
@Controller('v1/internal/nodes')
export class InternalNodesController {
  constructor(private readonly workers: WorkersService) {}

  // Public to the user-token guard: the bootstrap secret is this route's credential.
  @Post('register')
  @Public()
  @UseGuards(BootstrapCredentialGuard)
  @BootstrapAction('node.register')
  @HttpCode(HttpStatus.OK)
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'Register a node (again) with the bootstrap secret as bearer credential: returns its incarnation, task queue and worker token',
  })
  @ApiOkResponse({ type: RegisterNodeResponseDto })
  @ApiErrorResponses(
    ApiErrorCode.InvalidBootstrapCredential,
    ApiErrorCode.ValidationFailed,
    ApiErrorCode.MalformedJson,
    ApiErrorCode.PayloadTooLarge,
    ApiErrorCode.UnknownWorkerGroup,
  )
  register(@Body() body: RegisterNodeDto, @RequestId() requestId: string): Promise<RegisterNodeResponseDto> {
    return this.workers.register(body, requestId);
  }

  // The bootstrap secret again, not the worker token: the token being renewed may already be refused.
  @Post(':id/token')
  @Public()
  @UseGuards(BootstrapCredentialGuard)
  @BootstrapAction('token.renew')
  @HttpCode(HttpStatus.OK)
  @ApiBearerAuth()
  @ApiOperation({
    summary:
      'A fresh worker token for the same node incarnation, with the bootstrap secret as bearer credential; 409 means a newer incarnation exists (exit), 404 means register again',
  })
  @ApiOkResponse({ type: WorkerTokenResponseDto })
  @ApiErrorResponses(
    ApiErrorCode.InvalidBootstrapCredential,
    ApiErrorCode.ValidationFailed,
    ApiErrorCode.MalformedJson,
    ApiErrorCode.NodeSuperseded,
    ApiErrorCode.NodeNotFound,
  )
  renewToken(@Param() params: NodeIdParamDto, @Body() body: HeartbeatDto, @RequestId() requestId: string): Promise<WorkerTokenResponseDto> {
    return this.workers.renewToken(params.id, body, requestId);
  }

  // The guard binds the worker token to this node id and the body's incarnation (403 otherwise).
  @Post(':id/heartbeat')
  @WorkerRoute({ nodeParam: 'id' })
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: "Node liveness with the node's own worker token; 409 means a newer incarnation exists (exit), 404 or 401 means register again",
  })
  @ApiOkResponse({ type: HeartbeatResponseDto })
  @ApiErrorResponses(
    ApiErrorCode.Unauthorized,
    ApiErrorCode.Forbidden,
    ApiErrorCode.ValidationFailed,
    ApiErrorCode.MalformedJson,
    ApiErrorCode.NodeSuperseded,
    ApiErrorCode.NodeNotFound,
  )
  heartbeat(@Param() params: NodeIdParamDto, @Body() body: HeartbeatDto): Promise<HeartbeatResponseDto> {
    return this.workers.heartbeat(params.id, body);
  }

  // Bound like the heartbeat; the write itself is fenced by the incarnation.
  @Post(':id/leave')
  @WorkerRoute({ nodeParam: 'id' })
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    summary:
      "The node incarnation is stopping, with the node's own worker token: an ACTIVE node is DEAD at once, so nothing more is placed on it (a DRAINING one stays DRAINING); its running attempts end as they would have",
  })
  @ApiNoContentResponse({ description: 'Left, or nothing to do (DRAINING, DEAD, or a newer incarnation registered).' })
  @ApiErrorResponses(ApiErrorCode.Unauthorized, ApiErrorCode.Forbidden, ApiErrorCode.ValidationFailed, ApiErrorCode.MalformedJson)
  leave(@Param() params: NodeIdParamDto, @Body() body: HeartbeatDto, @RequestId() requestId: string): Promise<void> {
    return this.workers.leave(params.id, body, requestId);
  }

  // Bound like the heartbeat; the write itself is fenced by the assignment's node incarnation.
  @Post(':id/assignments/:assignmentId/started')
  @WorkerRoute({ nodeParam: 'id' })
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary:
      "The node started running an assignment placed on it (running_for_ms ago): PLACED → RUNNING, with the node's own worker token; 409 when the assignment is not PLACED on this node incarnation",
  })
  @ApiOkResponse({ type: AssignmentStartedResponseDto })
  @ApiErrorResponses(
    ApiErrorCode.Unauthorized,
    ApiErrorCode.Forbidden,
    ApiErrorCode.ValidationFailed,
    ApiErrorCode.MalformedJson,
    ApiErrorCode.AssignmentNotPlaced,
  )
  assignmentStarted(@Param() params: NodeAssignmentParamDto, @Body() body: AssignmentStartedDto): Promise<AssignmentStartedResponseDto> {
    return this.workers.assignmentStarted(params.id, params.assignmentId, body.incarnation, body.running_for_ms ?? 0);
  }
}
