import type { Assignment, Job, WorkerNode } from '../api-types';

// API-shaped objects for the CLI's specs; each test overrides only what it asserts on.

export function assignmentFixture(overrides: Partial<Assignment> = {}): Assignment {
  return {
    id: '5b7f3c1e-0000-4000-8000-000000000001',
    attempt: 1,
    state: 'RUNNING',
    node_id: 'cpu-1',
    worker_uid: 'cpu-1',
    node_incarnation: 1,
    hostname: 'host-a',
    pid: 4242,
    group: 'cpu',
    gpu_ids: [],
    cuda_visible_devices: '',
    reason: null,
    created_at: '2025-01-02T03:04:05.678Z',
    started_at: '2025-01-02T03:04:06.000Z',
    ended_at: null,
    preempted_by: null,
    ...overrides,
  };
}

export function jobFixture(overrides: Partial<Job> = {}): Job {
  return {
    id: '0d4b8a52-1111-4000-8000-000000000001',
    tenant_id: 'default',
    submitted_by: 'dev',
    task_type: 'sleep',
    params: { seconds: 1 },
    params_artifact: null,
    cpu: 1,
    mem_mb: 256,
    gpu: 0,
    priority: 0,
    priority_class: null,
    may_preempt: false,
    worker_group: null,
    node_selector: {},
    gpu_model: null,
    gpu_memory_mb: null,
    state: 'QUEUED',
    pending_reason: null,
    pending_detail: null,
    queue_position: null,
    attempts: 0,
    max_attempts: 3,
    timeout_seconds: 3600,
    result: null,
    result_artifact: null,
    error: null,
    created_at: '2025-01-02T03:04:05.678Z',
    updated_at: '2025-01-02T03:04:05.678Z',
    started_at: null,
    finished_at: null,
    latest_assignment: null,
    assignments: [],
    ...overrides,
  };
}

export function workerFixture(overrides: Partial<WorkerNode> = {}): WorkerNode {
  return {
    node_id: 'cpu-1',
    group: 'cpu',
    status: 'ACTIVE',
    hostname: 'host-a',
    pid: 4242,
    incarnation: 1,
    slots: 4,
    used_slots: 1,
    cpu: 4,
    used_cpu: 1,
    mem_mb: 8192,
    used_mem_mb: 256,
    gpu_count: 0,
    used_gpus: 0,
    gpus: [],
    labels: {},
    last_seen_at: '2025-01-02T03:04:05.000Z',
    registered_at: '2025-01-02T03:00:00.000Z',
    left_at: null,
    ...overrides,
  };
}
