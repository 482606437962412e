import type { AssignmentState, JobState, NodeStatus } from '../../libs/contracts/states';

// The CLI's view of the HTTP API contract (snake_case JSON); it never imports the API's DTOs,
// which drag in Nest and class-validator.

export interface Assignment {
  id: string;
  attempt: number;
  state: AssignmentState;
  node_id: string;
  worker_uid: string;
  node_incarnation: number;
  hostname: string | null;
  pid: number | null;
  group: string;
  gpu_ids: number[];
  cuda_visible_devices: string;
  reason: string | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  preempted_by: string | null;
}

export interface Job {
  id: string;
  tenant_id: string;
  submitted_by: string | null;
  task_type: string;
  /** null when they are stored as the artifact params_artifact. */
  params: Record<string, unknown> | null;
  params_artifact: string | null;
  cpu: number;
  mem_mb: number;
  gpu: number;
  priority: number;
  priority_class: string | null;
  may_preempt: boolean;
  worker_group: string | null;
  node_selector: Record<string, string>;
  gpu_model: string | null;
  gpu_memory_mb: number | null;
  state: JobState;
  pending_reason: string | null;
  pending_detail: string | null;
  queue_position: number | null;
  attempts: number;
  max_attempts: number;
  timeout_seconds: number;
  result: unknown;
  /** Set (and result null) when the result is stored as an artifact: `mlis result` reads it. */
  result_artifact: string | null;
  error: { code: string; message: string } | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  latest_assignment: Assignment | null;
  assignments: Assignment[];
}

export interface JobPage {
  items: Job[];
  next_cursor: string | null;
}

export interface WorkerNode {
  node_id: string;
  group: string;
  status: NodeStatus;
  hostname: string;
  pid: number;
  incarnation: number;
  slots: number;
  used_slots: number;
  cpu: number;
  used_cpu: number;
  mem_mb: number;
  used_mem_mb: number;
  gpu_count: number;
  used_gpus: number;
  gpus: { index: number; model: string; memory_mb: number }[];
  labels: Record<string, string>;
  last_seen_at: string;
  registered_at: string;
}

export interface WorkerList {
  items: WorkerNode[];
}

/** A worker group as GET /v1/worker-groups returns it: totals cover its live ACTIVE nodes. */
export interface WorkerGroup {
  name: string;
  description: string;
  nodes: { active: number; draining: number; dead: number };
  live_nodes: number;
  slots: number;
  used_slots: number;
  cpu: number;
  used_cpu: number;
  mem_mb: number;
  used_mem_mb: number;
  gpu_count: number;
  used_gpus: number;
  gpu_models: string[];
}

export interface WorkerGroupList {
  items: WorkerGroup[];
}

/** Body of POST /v1/jobs: absent fields take the API's defaults. */
export interface CreateJobRequest {
  task_type: string;
  params: Record<string, unknown>;
  cpu?: number;
  mem_mb?: number;
  gpu?: number;
  priority?: number;
  priority_class?: string;
  worker_group?: string;
  node_selector?: Record<string, string>;
  gpu_model?: string;
  gpu_memory_mb?: number;
  max_attempts?: number;
  timeout_seconds?: number;
}

export interface ListJobsQuery {
  limit?: number;
  state?: JobState;
  cursor?: string;
}

export interface ApiErrorDetail {
  field: string;
  problem: string;
}

/** GET /v1/auth/whoami: the caller as the API sees it after verifying the token; shown field by field. */
export type Whoami = Record<string, unknown>;

/** A tenant and its limits (null: no limit), as GET /v1/tenants returns it. */
/** GET /v1/artifacts/{id}/meta, and each item of the list. */
export interface Artifact {
  id: string;
  tenant_id: string;
  name: string | null;
  content_type: string;
  size_bytes: number;
  sha256: string;
  created_by: string;
  created_at: string;
  expires_at: string | null;
}

export interface ArtifactPage {
  items: Artifact[];
  next_cursor: string | null;
}

/** What an upload records besides the bytes. */
export interface ArtifactUploadOptions {
  name?: string;
  contentType: string;
  expiresInSeconds?: number;
  /** The bytes' sha256: the API refuses (and keeps nothing) when what arrived differs. */
  sha256: string;
  sizeBytes: number;
}

export interface Tenant {
  id: string;
  name: string;
  max_queued_jobs: number | null;
  submit_rate_per_minute: number | null;
  max_running_jobs: number | null;
  max_gpus: number | null;
  weight: number;
  /** Limits inside worker groups; a group not listed has none of its own. */
  group_limits: Record<string, GroupLimits>;
  created_at: string;
  updated_at: string;
}

export interface GroupLimits {
  max_running_jobs: number | null;
  max_gpus: number | null;
}

export interface TenantList {
  items: Tenant[];
}

/** Body of POST /v1/tenants and PATCH /v1/tenants/:id; absent limits stay as they are, null removes one. */
export interface TenantChanges {
  id?: string;
  name?: string;
  max_queued_jobs?: number | null;
  submit_rate_per_minute?: number | null;
  max_running_jobs?: number | null;
  max_gpus?: number | null;
  weight?: number;
  /** Each group given replaces that group's limits; a group given as null loses them. */
  group_limits?: Record<string, GroupLimits | null>;
}

export interface AuditEvent {
  id: string;
  at: string;
  request_id: string;
  actor_tenant: string | null;
  actor_subject: string | null;
  target_tenant: string | null;
  action: string;
  resource: string;
  result: 'allow' | 'deny';
  reason: string | null;
}

export interface AuditPage {
  items: AuditEvent[];
  next_cursor: string | null;
}

export interface AuditQuery {
  action?: string;
  result?: 'allow' | 'deny';
  actor_tenant?: string;
  target_tenant?: string;
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
}
