import type { Assignment, Job, WorkerNode } from './api-types';

const COLUMN_GAP = '  ';
const NONE = '-';

// Text from the server (reasons, error messages, host names) must not move the cursor or break rows.
function cell(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\x00-\x1f\x7f]+/g, ' ');
}

/** Left-aligned columns, two spaces apart, no trailing blanks. headers may be empty for a bare grid. */
export function formatTable(headers: string[], rows: string[][]): string {
  const lines = headers.length > 0 ? [headers, ...rows] : rows;
  const clean = lines.map((line) => line.map(cell));
  const widths: number[] = [];
  for (const line of clean) {
    line.forEach((value, index) => {
      widths[index] = Math.max(widths[index] ?? 0, value.length);
    });
  }
  return clean.map((line) => line.map((value, index) => value.padEnd(widths[index])).join(COLUMN_GAP).trimEnd()).join('\n');
}

/** `key:  value` lines with the values aligned. */
export function formatFields(fields: [string, string][]): string {
  return formatTable(
    [],
    fields.map(([key, value]) => [`${key}:`, value]),
  );
}

/** Second precision is enough for people; --json keeps the exact value. */
export function formatTime(iso: string | null): string {
  if (!iso) return NONE;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function formatAge(iso: string, now: Date): string {
  const seconds = Math.max(0, Math.floor((now.getTime() - new Date(iso).getTime()) / 1000));
  if (Number.isNaN(seconds)) return iso;
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
}

/** Up to two decimals, without trailing zeros: used cpu may be fractional. */
export function formatNumber(value: number): string {
  return String(Math.round(value * 100) / 100);
}

export function compactJson(value: unknown): string {
  return value === undefined || value === null ? NONE : JSON.stringify(value);
}

function hostPid(assignment: Assignment): string {
  if (!assignment.hostname) return NONE;
  return assignment.pid === null ? assignment.hostname : `${assignment.hostname}:${assignment.pid}`;
}

export function formatAssignments(assignments: Assignment[]): string {
  return formatTable(
    ['ATTEMPT', 'STATE', 'NODE', 'GROUP', 'GPUS', 'HOST:PID', 'STARTED', 'ENDED', 'REASON'],
    assignments.map((assignment) => [
      String(assignment.attempt),
      assignment.state,
      assignment.node_id,
      assignment.group,
      assignment.gpu_ids.length > 0 ? assignment.gpu_ids.join(',') : NONE,
      hostPid(assignment),
      formatTime(assignment.started_at),
      formatTime(assignment.ended_at),
      assignment.preempted_by ? `${assignment.reason ?? 'preempted'} (for job ${assignment.preempted_by})` : (assignment.reason ?? NONE),
    ]),
  );
}

/** Where the job may run, as submitted: "any node" when it did not say. */
function placementConstraints(job: Job): string {
  const parts: string[] = [];
  if (job.worker_group) parts.push(`group ${job.worker_group}`);
  const labels = formatLabels(job.node_selector);
  if (labels !== NONE) parts.push(`labels ${labels}`);
  if (job.gpu_model) parts.push(`gpu model ${job.gpu_model}`);
  if (job.gpu_memory_mb !== null) parts.push(`gpu memory >= ${job.gpu_memory_mb} MiB`);
  return parts.length > 0 ? parts.join(', ') : 'any node';
}

/** The readable block of `mlis status` (and of `mlis submit --wait`). */
export function formatJob(job: Job): string {
  const fields: [string, string][] = [
    ['id', job.id],
    ['task type', job.task_type],
    ['state', job.state],
  ];
  if (job.pending_reason) {
    fields.push(['pending', job.pending_detail ? `${job.pending_reason}: ${job.pending_detail}` : job.pending_reason]);
    fields.push(['position', job.queue_position === null ? `${NONE} (not reached by the last scheduling cycle)` : `${job.queue_position} in the queue`]);
  }
  fields.push(
    ['attempts', `${job.attempts}/${job.max_attempts}`],
    ['resources', `cpu ${formatNumber(job.cpu)}, mem ${job.mem_mb} MiB, gpu ${job.gpu}, priority ${job.priority}${job.priority_class ? ` (${job.priority_class})` : ''}`],
    ['placement', placementConstraints(job)],
    ['params', job.params_artifact ? `in artifact ${job.params_artifact}` : compactJson(job.params)],
    ['result', job.result_artifact ? `in artifact ${job.result_artifact} (mlis result ${job.id})` : compactJson(job.result)],
    ['error', job.error ? `${job.error.code}: ${job.error.message}` : NONE],
    ['created', formatTime(job.created_at)],
    ['started', formatTime(job.started_at)],
    ['finished', formatTime(job.finished_at)],
  );
  const assignments = job.assignments.length > 0 ? formatAssignments(job.assignments) : 'none yet';
  return `${formatFields(fields)}\n\nassignments:\n${assignments}`;
}

export function formatJobList(jobs: Job[]): string {
  return formatTable(
    ['ID', 'TYPE', 'STATE', 'ATTEMPTS', 'NODE', 'CREATED'],
    jobs.map((job) => [
      job.id,
      job.task_type,
      job.state,
      `${job.attempts}/${job.max_attempts}`,
      job.latest_assignment?.node_id ?? NONE,
      formatTime(job.created_at),
    ]),
  );
}

/** `k=v,k2=v2` by key, or `-`: the same form MLIS_NODE_LABELS takes. */
export function formatLabels(labels: Record<string, string>): string {
  const pairs = Object.keys(labels)
    .sort()
    .map((key) => `${key}=${labels[key]}`);
  return pairs.length > 0 ? pairs.join(',') : NONE;
}

export function formatWorkers(nodes: WorkerNode[], now: Date): string {
  return formatTable(
    ['NODE', 'GROUP', 'STATUS', 'HOST', 'PID', 'SLOTS', 'CPU', 'MEM MB', 'GPUS', 'LAST SEEN', 'LABELS'],
    nodes.map((node) => [
      node.node_id,
      node.group,
      // A node that said it was stopping (a rollout) against one that went silent.
      node.left_at ? `${node.status} (left)` : node.status,
      node.hostname,
      String(node.pid),
      `${node.used_slots}/${node.slots}`,
      `${formatNumber(node.used_cpu)}/${formatNumber(node.cpu)}`,
      `${node.used_mem_mb}/${node.mem_mb}`,
      `${node.used_gpus}/${node.gpu_count}`,
      formatAge(node.last_seen_at, now),
      formatLabels(node.labels),
    ]),
  );
}
