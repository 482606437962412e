import type { LedgerActivities } from '../../../activities/ledger.activities';
import {
  nodeTaskQueue,
  type EndAssignmentInput,
  type FinishJobInput,
  type AwaitPlacementInput,
  type AwaitPlacementResult,
  type Placement,
} from '@mlis/contracts';

export interface FakeNode {
  nodeId: string;
  group: string;
}

/**
 * An in-memory capacity ledger for workflow tests: places on the first listed node that has not
 * lost the job (like the real ledger, from the job's LOST attempts), answers "no capacity" while
 * withheld, and records every call in order.
 */
export class FakeLedger {
  readonly placementCalls: AwaitPlacementInput[] = [];
  readonly endAssignmentCalls: EndAssignmentInput[] = [];
  readonly finishJobCalls: FinishJobInput[] = [];
  /** The node each attempt was placed on, in attempt order. */
  placedNodes(jobId: string): string[] {
    return [...this.placements.entries()].filter(([key]) => key.startsWith(`${jobId}/`)).map(([, placement]) => placement.nodeId);
  }

  /** Every call by activity name, in the order they arrived. */
  readonly calls: string[] = [];
  private capacity = true;
  private endAssignmentGate: Promise<void> | undefined;
  // Placing is idempotent per (job, attempt), like the real ledger: a retried activity gets the same node.
  private readonly placements = new Map<string, Placement>();

  constructor(private readonly nodes: readonly FakeNode[]) {}

  withholdCapacity(): void {
    this.capacity = false;
  }

  releaseCapacity(): void {
    this.capacity = true;
  }

  /** Holds every later endAssignment call (recorded, not answered) until the returned function is called. */
  holdEndAssignments(): () => void {
    let release = (): void => undefined;
    this.endAssignmentGate = new Promise<void>((resolve) => {
      release = resolve;
    });
    return () => {
      this.endAssignmentGate = undefined;
      release();
    };
  }

  /** Places attempt 1 as the API's cycle before the workflow start does (ADR 0031): the placement goes in the input. */
  placeBeforeStart(jobId: string): Placement {
    const placed = this.place({ jobId, attempt: 1 });
    if (!placed.placed) throw new Error(`the fake ledger could not place job ${jobId}: ${placed.pendingReason}`);
    return placed.placement;
  }

  private readonly awaitPlacement = async (input: AwaitPlacementInput): Promise<AwaitPlacementResult> => {
    this.calls.push('awaitPlacement');
    this.placementCalls.push(input);
    return this.place(input);
  };

  private place(input: AwaitPlacementInput): AwaitPlacementResult {
    const key = `${input.jobId}/${input.attempt}`;
    const known = this.placements.get(key);
    if (known) return { placed: true, placement: known };
    if (!this.capacity) {
      return { placed: false, pendingReason: 'insufficient_capacity', detail: 'the fake ledger withholds capacity', queuePosition: 1 };
    }
    const lostOn = this.endAssignmentCalls
      .filter((end) => end.jobId === input.jobId && end.state === 'LOST')
      .map((end) => this.placements.get(`${end.jobId}/${end.attempt}`)?.nodeId);
    const node = this.nodes.find((candidate) => !lostOn.includes(candidate.nodeId));
    if (!node) return { placed: false, pendingReason: 'no_live_node', detail: 'every fake node lost the job', queuePosition: 1 };
    const placement: Placement = {
      assignmentId: `assignment-${input.jobId}-${input.attempt}`,
      attempt: input.attempt,
      nodeId: node.nodeId,
      group: node.group,
      taskQueue: nodeTaskQueue(node.group, node.nodeId),
      gpuIds: [],
    };
    this.placements.set(key, placement);
    return { placed: true, placement };
  }

  readonly activities: LedgerActivities = {
    awaitPlacement: this.awaitPlacement,
    placeJob: this.awaitPlacement,

    // Called only by workflows started before the ledger-in-workflow-task patch: recorded, never expected.
    markAssignmentRunning: async (): Promise<void> => {
      this.calls.push('markAssignmentRunning');
    },

    endAssignment: async (input: EndAssignmentInput) => {
      this.calls.push('endAssignment');
      this.endAssignmentCalls.push(input);
      await this.endAssignmentGate;
      return { jobState: input.jobState };
    },

    finishJob: async (input: FinishJobInput) => {
      this.calls.push('finishJob');
      this.finishJobCalls.push(input);
      return { jobState: input.state };
    },
  };
}
