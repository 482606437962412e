import { defineQuery, defineSignal } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { JobWorkflowStatus } from './payloads';

/** Sent by the ledger when capacity frees up or nodes join: waiting jobs try to place again. */
export const capacityAvailableSignal = defineSignal('capacityAvailable');
/** Sent by nodes before ADR 0018 when they started an attempt; only workflows started before its patch still listen. */
export const assignmentStartedSignal = defineSignal<[{ attempt: number }]>('assignmentStarted');
/** Sent by the scheduler: give the attempt back (PREEMPTED) so a higher-priority job can have its resources. */
export const preemptAssignmentSignal = defineSignal<[{ attempt: number }]>('preemptAssignment');
/**
 * Sent by control: the node the attempt was placed on is DEAD or has left, and the attempt had not started there. The
 * workflow withdraws it (LOST, `node_gone`) and places the job again, instead of waiting out schedule-to-start.
 */
export const nodeGoneSignal = defineSignal<[{ attempt: number }]>('nodeGone');
export const getJobStatusQuery = defineQuery<JobWorkflowStatus>('getJobStatus');

export const SEARCH_ATTRIBUTES = {
  tenant: defineSearchAttributeKey('MlisTenant', SearchAttributeType.KEYWORD),
  taskType: defineSearchAttributeKey('MlisTaskType', SearchAttributeType.KEYWORD),
  state: defineSearchAttributeKey('MlisState', SearchAttributeType.KEYWORD),
  workerGroup: defineSearchAttributeKey('MlisWorkerGroup', SearchAttributeType.KEYWORD),
  node: defineSearchAttributeKey('MlisNode', SearchAttributeType.KEYWORD),
} as const;

export const SEARCH_ATTRIBUTE_NAMES = Object.values(SEARCH_ATTRIBUTES).map((key) => key.name);
