import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { AppConfig } from '@mlis/config';
import { ApiErrorCode, nodeTaskQueue } from '@mlis/contracts';
import { AssignmentsRepository, NodesRepository, UnknownWorkerGroupError } from '@mlis/db';
import { observeAdmissionWait } from '@mlis/metrics';
import { Scheduler } from '@mlis/temporal';
import { Access } from '../common/access';
import { DomainError } from '../common/domain-error';
import { InjectAppConfig } from '../core/app-config';
import type { RequestActor } from '../common/actor';
import type {
  AssignmentStartedResponseDto,
  HeartbeatDto,
  HeartbeatResponseDto,
  NodeListResponseDto,
  NodeResponseDto,
  RegisterNodeDto,
  RegisterNodeResponseDto,
  WorkerGroupListResponseDto,
  WorkerTokenResponseDto,
} from './workers.dto';
import { WorkerCredentials } from './worker-credentials';
import { toNodeResponse, toWorkerGroupResponse } from './workers.mapper';

/** The node registry: registration, liveness heartbeats and the node list. */
@Injectable()
export class WorkersService implements OnApplicationBootstrap {
  private readonly logger = new Logger(WorkersService.name);

  constructor(
    @Inject(NodesRepository) private readonly nodes: NodesRepository,
    @Inject(AssignmentsRepository) private readonly assignments: AssignmentsRepository,
    @Inject(Scheduler) private readonly scheduler: Scheduler,
    @Inject(Access) private readonly access: Access,
    private readonly credentials: WorkerCredentials,
    @InjectAppConfig() private readonly config: AppConfig,
  ) {}

  /** Nodes can only register into configured groups; make sure they exist. */
  async onApplicationBootstrap(): Promise<void> {
    await this.nodes.ensureWorkerGroups(this.config.workerGroups);
  }

  async list(): Promise<NodeListResponseDto> {
    const [nodes, reservations] = await Promise.all([this.nodes.list(), this.nodes.gpuReservations()]);
    return { items: nodes.map((node) => toNodeResponse(node, reservations)) };
  }

  /** Worker groups with their nodes by status; totals cover the nodes a job could be placed on now. */
  async listGroups(): Promise<WorkerGroupListResponseDto> {
    const groups = await this.nodes.groupSummaries(this.config.scheduling.nodeDeadAfterSeconds);
    return { items: groups.map(toWorkerGroupResponse) };
  }

  /**
   * Registers (or re-registers, with a new incarnation) a node whose bootstrap credential was checked,
   * mints its worker token for that incarnation, then wakes jobs waiting for capacity.
   */
  async register(dto: RegisterNodeDto, requestId: string): Promise<RegisterNodeResponseDto> {
    const node = { requestId, subject: `node:${dto.node_id}` };
    const audit = async (manager: EntityManager): Promise<void> => {
      await this.access.allow(node, { action: 'node.register', resource: `node/${dto.node_id}`, targetTenant: null }, manager);
      await this.access.allow(node, { action: 'token.mint', resource: `node/${dto.node_id}`, targetTenant: null }, manager);
    };
    let incarnation: number;
    try {
      ({ incarnation } = await this.nodes.registerNode({
        nodeId: dto.node_id,
        group: dto.group,
        hostname: dto.hostname,
        pid: dto.pid,
        slots: dto.slots,
        cpuMillis: dto.cpu_millis,
        memMb: dto.mem_mb,
        gpus: dto.gpus.map((gpu) => ({ index: gpu.index, model: gpu.model, memory_mb: gpu.memory_mb })),
        labels: dto.labels ?? {},
      }, audit));
    } catch (error) {
      if (error instanceof UnknownWorkerGroupError) {
        throw new DomainError(
          ApiErrorCode.UnknownWorkerGroup,
          `unknown worker group "${dto.group}"; configured groups: ${this.config.workerGroups.join(', ')}`,
        );
      }
      throw error;
    }
    const workerToken = this.credentials.mintToken(dto.node_id, incarnation);
    // Not awaited: the node is registered whether or not Temporal takes the signals right now.
    void this.wakeWaitingJobs(dto.node_id);
    return {
      node_id: dto.node_id,
      group: dto.group,
      incarnation,
      task_queue: nodeTaskQueue(dto.group, dto.node_id),
      heartbeat_seconds: this.config.scheduling.nodeHeartbeatSeconds,
      worker_token: workerToken,
    };
  }

  /** Liveness of a node; the auth guard has checked that the worker token is this node incarnation's. */
  async heartbeat(nodeId: string, dto: HeartbeatDto): Promise<HeartbeatResponseDto> {
    const result = await this.nodes.heartbeatNode(nodeId, dto.incarnation);
    switch (result) {
      case 'ok':
        return { status: 'ok' };
      case 'superseded':
        throw new DomainError(
          ApiErrorCode.NodeSuperseded,
          `node ${nodeId} registered again with a newer incarnation than ${dto.incarnation}; this process must exit`,
        );
      case 'unknown':
        throw new DomainError(ApiErrorCode.NodeNotFound, `node ${nodeId} is not registered (or was declared dead); register again`);
    }
  }

  /**
   * The node incarnation is stopping (SIGTERM): nothing more is placed on it from now, rather than for as long as the
   * reaper takes to notice its silence; its running attempts end through their workflows as before. Nothing to do for
   * a DRAINING or DEAD node or an older incarnation.
   */
  async leave(nodeId: string, dto: HeartbeatDto, requestId: string): Promise<void> {
    const node = { requestId, subject: `node:${nodeId}` };
    const left = await this.nodes.leaveNode(nodeId, dto.incarnation, async (manager) => {
      await this.access.allow(node, { action: 'node.leave', resource: `node/${nodeId}`, targetTenant: null }, manager);
    });
    if (left) this.logger.log({ msg: 'node left', node_id: nodeId, incarnation: dto.incarnation });
  }

  /**
   * The node started an attempt placed on this incarnation (or on an earlier one of the node, whose queue it took
   * over) `runningForMs` ago: the assignment goes PLACED → RUNNING (ADRs 0018, 0030). The first attempt of a job to run
   * records its admission wait.
   */
  async assignmentStarted(nodeId: string, assignmentId: string, incarnation: number, runningForMs: number): Promise<AssignmentStartedResponseDto> {
    const started = await this.assignments.markAssignmentRunning({ assignmentId, nodeId, incarnation, runningForMs });
    if (!started) {
      throw new DomainError(
        ApiErrorCode.AssignmentNotPlaced,
        `assignment ${assignmentId} is not PLACED on node ${nodeId} incarnation ${incarnation}: it started already, ended, or was placed elsewhere`,
      );
    }
    if (started.admissionWaitSeconds !== null) observeAdmissionWait(started.group, started.tenantId, started.admissionWaitSeconds);
    return { assignment_id: assignmentId, state: 'RUNNING' };
  }

  /**
   * A fresh worker token for a live node incarnation (bootstrap secret checked by the guard): the node keeps
   * its incarnation, and so its running work. Counts as a heartbeat; 409 for a superseded incarnation, 404
   * for an unknown or DEAD node (it must register again).
   */
  async renewToken(nodeId: string, dto: HeartbeatDto, requestId: string): Promise<WorkerTokenResponseDto> {
    await this.heartbeat(nodeId, dto);
    const workerToken = this.credentials.mintToken(nodeId, dto.incarnation);
    await this.access.allow({ requestId, subject: `node:${nodeId}` }, { action: 'token.mint', resource: `node/${nodeId}`, targetTenant: null, reason: 'renewal' });
    return { node_id: nodeId, incarnation: dto.incarnation, worker_token: workerToken };
  }

  /**
   * DRAINING: no new placements, running work finishes. Undrain brings the node back and wakes
   * waiting jobs. Both are audited; a DEAD node must register again first.
   */
  async setDraining(nodeId: string, draining: boolean, actor: RequestActor): Promise<NodeResponseDto> {
    if (!(await this.nodes.findById(nodeId))) throw new DomainError(ApiErrorCode.NodeNotFound, `node ${nodeId} is not registered`);
    const audit = (manager: EntityManager) =>
      this.access.allow(actor, { action: draining ? 'node.drain' : 'node.undrain', resource: `node/${nodeId}`, targetTenant: null }, manager);
    if (!(await this.nodes.setNodeDraining(nodeId, draining, audit))) {
      throw new DomainError(ApiErrorCode.NodeDead, `node ${nodeId} is DEAD; it must register again before it can be ${draining ? 'drained' : 'undrained'}`);
    }
    if (!draining) await this.wakeWaitingJobs(nodeId);
    return toNodeResponse((await this.nodes.findById(nodeId))!, await this.nodes.gpuReservations(nodeId));
  }

  private async wakeWaitingJobs(nodeId: string): Promise<void> {
    try {
      const { placed } = await this.scheduler.requestCycle('capacity');
      // With no job waiting the cycle ended after its check (ADR 0046): placed is 0 either way.
      this.logger.log({ msg: 'capacity appeared on a node; waiting jobs placed', node_id: nodeId, placed: placed.length });
    } catch (error) {
      this.logger.warn({ msg: 'scheduling cycle failed; the control process runs one on its timer', node_id: nodeId, error: String(error) });
    }
  }
}
