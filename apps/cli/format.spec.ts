import { formatAge, formatJob, formatJobList, formatLabels, formatNumber, formatTable, formatTime, formatWorkers } from './format';
import { assignmentFixture, jobFixture, workerFixture } from './testing/fixtures';

describe('formatTable', () => {
  it('aligns every column to its widest cell, two spaces apart, without trailing blanks', () => {
    const table = formatTable(
      ['ID', 'STATE', 'NODE'],
      [
        ['a', 'RUNNING', 'cpu-1'],
        ['bbbb', 'QUEUED', '-'],
      ],
    );
    expect(table.split('\n')).toEqual(['ID    STATE    NODE', 'a     RUNNING  cpu-1', 'bbbb  QUEUED   -']);
  });

  it('prints only the header when there are no rows, and a bare grid without headers', () => {
    expect(formatTable(['A', 'B'], [])).toBe('A  B');
    expect(formatTable([], [['key:', 'v'], ['longer:', 'w']])).toBe('key:     v\nlonger:  w');
  });

  it('neutralises control characters so server text cannot break rows or drive the terminal', () => {
    expect(formatTable(['A', 'B'], [['x\ny', '\u001b[31mred']])).toBe('A    B\nx y   [31mred');
  });
});

describe('small formatters', () => {
  it('formats times to the second and ages relative to now', () => {
    expect(formatTime('2025-01-02T03:04:05.678Z')).toBe('2025-01-02T03:04:05Z');
    expect(formatTime(null)).toBe('-');
    const now = new Date('2025-01-02T03:04:10.000Z');
    expect(formatAge('2025-01-02T03:04:05.000Z', now)).toBe('5s ago');
    expect(formatAge('2025-01-02T02:54:10.000Z', now)).toBe('10m ago');
    expect(formatAge('2025-01-01T23:04:10.000Z', now)).toBe('4h ago');
    expect(formatAge('2025-01-03T00:00:00.000Z', now)).toBe('0s ago');
  });

  it('rounds fractional cores to two decimals', () => {
    expect(formatNumber(0.5)).toBe('0.5');
    expect(formatNumber(1 / 3)).toBe('0.33');
    expect(formatNumber(4)).toBe('4');
  });
});

describe('formatJob', () => {
  it('shows state, attempts, result, error and the assignments table', () => {
    const lost = assignmentFixture({ attempt: 1, state: 'LOST', node_id: 'gpu-1', group: 'gpu', gpu_ids: [0, 1], reason: 'heartbeat timeout', ended_at: '2025-01-02T03:05:00.000Z' });
    const done = assignmentFixture({ attempt: 2, state: 'SUCCEEDED', node_id: 'gpu-2', group: 'gpu', gpu_ids: [1], hostname: 'host-b', pid: 7 });
    const text = formatJob(
      jobFixture({
        state: 'SUCCEEDED',
        attempts: 2,
        result: { gpu_ids: [1], cuda_visible_devices: '1' },
        assignments: [lost, done],
        latest_assignment: done,
      }),
    );
    expect(text).toContain('state:      SUCCEEDED');
    expect(text).toContain('attempts:   2/3');
    expect(text).toContain('result:     {"gpu_ids":[1],"cuda_visible_devices":"1"}');
    expect(text).toContain('error:      -');
    const rows = text.split('\n');
    const header = rows.findIndex((line) => line.startsWith('ATTEMPT'));
    expect(rows[header]).toMatch(/^ATTEMPT\s+STATE\s+NODE\s+GROUP\s+GPUS\s+HOST:PID\s+STARTED\s+ENDED\s+REASON$/);
    expect(rows[header + 1]).toMatch(/^1\s+LOST\s+gpu-1\s+gpu\s+0,1\s+host-a:4242\s+2025-01-02T03:04:06Z\s+2025-01-02T03:05:00Z\s+heartbeat timeout$/);
    expect(rows[header + 2]).toMatch(/^2\s+SUCCEEDED\s+gpu-2\s+gpu\s+1\s+host-b:7\s/);
  });

  it('points to the artifacts that hold large params and results, and to mlis result', () => {
    const job = jobFixture({ state: 'SUCCEEDED', params: null, params_artifact: 'art-params', result: null, result_artifact: 'art-result' });
    const text = formatJob(job);
    expect(text).toContain('params:     in artifact art-params');
    expect(text).toContain(`result:     in artifact art-result (mlis result ${job.id})`);
  });

  it('names the job an attempt gave way to', () => {
    const job = jobFixture({
      assignments: [assignmentFixture({ state: 'PREEMPTED', reason: 'preempted by a higher-priority job', preempted_by: 'job-urgent' })],
    });
    expect(formatJob(job)).toMatch(/PREEMPTED .* preempted by a higher-priority job \(for job job-urgent\)$/m);
  });

  it('shows why a queued job waits, and the error of a failed one', () => {
    const queued = formatJob(
      jobFixture({ pending_reason: 'insufficient_capacity', pending_detail: 'no node has 2 free GPUs', queue_position: 3, gpu: 2, gpu_model: 'A100', node_selector: { zone: 'eu-1' } }),
    );
    expect(queued).toContain('pending:    insufficient_capacity: no node has 2 free GPUs');
    expect(queued).toContain('position:   3 in the queue');
    expect(queued).toContain('placement:  labels zone=eu-1, gpu model A100');
    expect(formatJob(jobFixture({ pending_reason: 'queued' }))).toContain('position:   - (not reached by the last scheduling cycle)');
    expect(queued).toContain('assignments:\nnone yet');
    const failed = formatJob(jobFixture({ state: 'FAILED', error: { code: 'RunnerError', message: 'boom' } }));
    expect(failed).toContain('error:      RunnerError: boom');
    expect(failed).not.toContain('pending:');
    expect(failed).toContain('placement:  any node');
  });
});

describe('formatJobList and formatWorkers', () => {
  it('lists jobs with their latest node', () => {
    const running = jobFixture({ id: 'j-2', state: 'RUNNING', attempts: 1, latest_assignment: assignmentFixture() });
    const lines = formatJobList([running, jobFixture({ id: 'j-1' })]).split('\n');
    expect(lines[0]).toMatch(/^ID\s+TYPE\s+STATE\s+ATTEMPTS\s+NODE\s+CREATED$/);
    expect(lines[1]).toMatch(/^j-2\s+sleep\s+RUNNING\s+1\/3\s+cpu-1\s+2025-01-02T03:04:05Z$/);
    expect(lines[2]).toMatch(/^j-1\s+sleep\s+QUEUED\s+0\/3\s+-\s+/);
  });

  it('shows used/total capacity per worker', () => {
    const gpu = workerFixture({ node_id: 'gpu-1', group: 'gpu', used_cpu: 0.5, gpu_count: 2, used_gpus: 1 });
    const lines = formatWorkers([gpu], new Date('2025-01-02T03:04:08.000Z')).split('\n');
    expect(lines[0]).toMatch(/^NODE\s+GROUP\s+STATUS\s+HOST\s+PID\s+SLOTS\s+CPU\s+MEM MB\s+GPUS\s+LAST SEEN\s+LABELS$/);
    expect(lines[1]).toMatch(/^gpu-1\s+gpu\s+ACTIVE\s+host-a\s+4242\s+1\/4\s+0.5\/4\s+256\/8192\s+1\/2\s+3s ago\s+-$/);
  });

  it('tells a node that left on SIGTERM from one that went silent', () => {
    const left = workerFixture({ node_id: 'cpu-1', status: 'DEAD', left_at: '2025-01-02T03:04:06.000Z' });
    const silent = workerFixture({ node_id: 'cpu-2', status: 'DEAD' });
    const lines = formatWorkers([left, silent], new Date('2025-01-02T03:04:08.000Z')).split('\n');
    expect(lines[1]).toMatch(/^cpu-1\s+cpu\s+DEAD \(left\)\s+host-a\s/);
    expect(lines[2]).toMatch(/^cpu-2\s+cpu\s+DEAD\s+host-a\s/);
  });

  it('shows labels as k=v pairs by key', () => {
    expect(formatLabels({ zone: 'eu-1', 'example.com/rack': 'r7', spot: '' })).toBe('example.com/rack=r7,spot=,zone=eu-1');
    const labelled = workerFixture({ labels: { zone: 'eu-1' } });
    expect(formatWorkers([labelled], new Date('2025-01-02T03:04:08.000Z'))).toMatch(/3s ago\s+zone=eu-1$/);
  });
});
