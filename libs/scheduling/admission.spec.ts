import { ApiErrorCode } from '@mlis/contracts';
import { InvalidParamsError, type TaskSpec } from '@mlis/runners';
import { admit, AdmissionRefused, specOf, whyUnschedulable, type AdmissionPolicy, type ClusterShape, type JobRequirements, type NodeShape, type Submission } from './admission';

function job(overrides: Partial<JobRequirements> = {}): JobRequirements {
  return { cpuMillis: 1000, memMb: 256, gpu: 0, workerGroup: null, nodeSelector: {}, gpuModel: null, gpuMemoryMb: null, ...overrides };
}

function node(overrides: Partial<NodeShape> = {}): NodeShape {
  return { group: 'cpu', labels: {}, cpuMillis: 4000, memMb: 8192, gpus: [], ...overrides };
}

function gpus(count: number, model: string, memoryMb: number, first = 0): NodeShape['gpus'] {
  return Array.from({ length: count }, (_, i) => ({ index: first + i, model, memoryMb }));
}

const cpuNode = node({ labels: { zone: 'eu-1' } });
const a100Node = node({ group: 'gpu', cpuMillis: 32_000, memMb: 262_144, gpus: gpus(4, 'A100', 40_960) });
const mixedNode = node({ group: 'gpu', cpuMillis: 8000, memMb: 65_536, gpus: [...gpus(1, 'A100', 81_920), ...gpus(2, 'T4', 16_384, 1)] });

function cluster(overrides: Partial<ClusterShape> = {}): ClusterShape {
  return { nodes: [cpuNode, a100Node, mixedNode], workerGroups: ['cpu', 'gpu'], tenantMaxGpus: null, ...overrides };
}

describe(whyUnschedulable.name, () => {
  it('accepts what some node could run when empty, whatever it runs now', () => {
    expect(whyUnschedulable(job(), cluster())).toBeNull();
    expect(whyUnschedulable(job({ gpu: 4, workerGroup: 'gpu', gpuModel: 'A100', gpuMemoryMb: 40_960 }), cluster())).toBeNull();
    expect(whyUnschedulable(job({ gpu: 2, gpuModel: 'T4' }), cluster())).toBeNull();
    expect(whyUnschedulable(job({ workerGroup: 'cpu', nodeSelector: { zone: 'eu-1' }, cpuMillis: 4000, memMb: 8192 }), cluster())).toBeNull();
  });

  it('accepts anything that fits its group when no node is registered at all, or none yet in a configured group', () => {
    expect(whyUnschedulable(job({ gpu: 64, gpuModel: 'H100', nodeSelector: { zone: 'mars' } }), cluster({ nodes: [] }))).toBeNull();
    expect(whyUnschedulable(job({ workerGroup: 'batch', gpu: 8 }), cluster({ workerGroups: ['batch', 'cpu', 'gpu'] }))).toBeNull();
  });

  it('refuses a worker group that is not configured, listing the groups, even with no node registered', () => {
    const refusal = whyUnschedulable(job({ workerGroup: 'tpu' }), cluster({ nodes: [] }));
    expect(refusal).toEqual({
      message: 'no worker group "tpu"; the groups are cpu, gpu',
      details: [{ field: 'worker_group', problem: 'no such worker group' }],
    });
  });

  it("refuses more GPUs than the tenant's max_gpus could ever allow, even with no node registered", () => {
    const refusal = whyUnschedulable(job({ gpu: 2 }), cluster({ nodes: [], tenantMaxGpus: 1 }));
    expect(refusal?.details).toEqual([{ field: 'gpu', problem: "exceeds the tenant's max_gpus 1" }]);
    expect(refusal?.message).toBe("the tenant's max_gpus is 1: a job asking for 2 GPUs could never start");
    expect(whyUnschedulable(job({ gpu: 1 }), cluster({ tenantMaxGpus: 1 }))).toBeNull();
    // A limit of 0 GPUs still lets CPU jobs run.
    expect(whyUnschedulable(job(), cluster({ tenantMaxGpus: 0 }))).toBeNull();
  });

  it('refuses labels no node of the group carries, all of them together', () => {
    expect(whyUnschedulable(job({ nodeSelector: { zone: 'mars' } }), cluster())).toEqual({
      message: 'no node registered has the labels zone=mars',
      details: [{ field: 'node_selector', problem: 'no node registered has the labels zone=mars' }],
    });
    // zone=eu-1 exists, but only in group cpu.
    expect(whyUnschedulable(job({ workerGroup: 'gpu', nodeSelector: { zone: 'eu-1' } }), cluster())?.message).toBe(
      'no node in group gpu has the labels zone=eu-1',
    );
    // Each label exists on some node, never both on one.
    const split = cluster({ nodes: [node({ labels: { zone: 'eu-1' } }), node({ labels: { rack: 'r7' } })] });
    expect(whyUnschedulable(job({ nodeSelector: { zone: 'eu-1', rack: 'r7' } }), split)?.message).toBe('no node registered has the labels rack=r7,zone=eu-1');
    // A label named like an Object method is not "carried" by every node.
    expect(whyUnschedulable(job({ nodeSelector: { constructor: '' } }), cluster())?.details[0].field).toBe('node_selector');
  });

  it('counts only GPUs of the requested model with enough memory, and blames the constraint that excluded every node', () => {
    const model = whyUnschedulable(job({ gpu: 2, workerGroup: 'gpu', gpuModel: 'H100' }), cluster());
    expect(model).toEqual({
      message: 'no node in group gpu has 2 GPUs of model H100 (the most any has: 0)',
      details: [{ field: 'gpu_model', problem: 'no node in group gpu has 2 GPUs of model H100 (the most any has: 0)' }],
    });
    // Two A100s exist on one node (40 GiB) and one 80 GiB A100 on the other: never two 80 GiB on one node.
    const memory = whyUnschedulable(job({ gpu: 2, gpuModel: 'A100', gpuMemoryMb: 81_920 }), cluster());
    expect(memory?.message).toBe('no node registered has 2 GPUs of model A100 with at least 81920 MiB each (the most any has: 1)');
    expect(memory?.details[0].field).toBe('gpu_memory_mb');
    // Three T4s: mixedNode has two T4s and three GPUs in all, so the model is what excludes it.
    expect(whyUnschedulable(job({ gpu: 3, gpuModel: 'T4' }), cluster())?.details[0].field).toBe('gpu_model');
    // No node has 5 GPUs of any kind: the count itself is the problem.
    const count = whyUnschedulable(job({ gpu: 5, gpuModel: 'A100' }), cluster());
    expect(count?.message).toBe('no node registered has 5 GPUs of model A100 (the most any has: 4)');
    expect(count?.details[0].field).toBe('gpu');
    expect(whyUnschedulable(job({ gpu: 1 }), cluster({ nodes: [cpuNode] }))?.message).toBe('no node registered has 1 GPU (the most any has: 0)');
  });

  it('checks cpu and memory on the nodes that passed the selectors, and names those selectors', () => {
    // 16 CPUs exist (a100Node), but not on a node with a T4.
    const cpu = whyUnschedulable(job({ gpu: 1, gpuModel: 'T4', cpuMillis: 16_000 }), cluster());
    expect(cpu).toEqual({
      message: 'no node registered with 1 GPU of model T4 has 16 CPUs (the most any has: 8)',
      details: [{ field: 'cpu', problem: 'no node registered with 1 GPU of model T4 has 16 CPUs (the most any has: 8)' }],
    });
    expect(whyUnschedulable(job({ workerGroup: 'cpu', cpuMillis: 500, memMb: 10_000 }), cluster())?.message).toBe(
      'no node in group cpu has 10000 MiB of memory (the most any has: 8192)',
    );
    // Enough cpu on one node, enough memory on the other, never both on one.
    const split = cluster({ nodes: [node({ cpuMillis: 16_000, memMb: 1024 }), node({ cpuMillis: 2000, memMb: 65_536 })] });
    const both = whyUnschedulable(job({ cpuMillis: 8000, memMb: 4096 }), split);
    expect(both?.message).toBe('no node registered with 8 CPUs has 4096 MiB of memory (the most any has: 1024)');
    expect(both?.details[0].field).toBe('mem_mb');
  });
});

// A task type whose params need a positive `seconds`, like the sleep runner's.
const timed: TaskSpec = {
  taskType: 'timed',
  description: 'needs seconds',
  validate(params) {
    const { seconds } = params as { seconds?: unknown };
    if (typeof seconds !== 'number' || seconds <= 0) throw new InvalidParamsError('seconds must be a positive number', [{ field: 'params.seconds', problem: 'a positive number' }]);
    return params;
  },
};

const policy: AdmissionPolicy = {
  taskSpec: (taskType) => (taskType === timed.taskType ? timed : undefined),
  priorityClasses: [
    { name: 'batch', priority: -10, preempting: false },
    { name: 'urgent', priority: 100, preempting: true },
  ],
  defaults: { cpu: 1, memMb: 256, gpu: 0, priority: 0, maxAttempts: 3, timeoutSeconds: 600 },
};

function submission(overrides: Partial<Submission> = {}): Submission {
  return { task_type: 'timed', params: { seconds: 1 }, ...overrides };
}

function refusalOf(request: Submission): AdmissionRefused {
  try {
    admit(request, policy);
  } catch (error) {
    if (error instanceof AdmissionRefused) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe(admit.name, () => {
  it('fills what the submission leaves out from the policy, keeping the params as sent', () => {
    expect(admit(submission(), policy)).toEqual({
      taskType: 'timed',
      params: { seconds: 1 },
      cpuMillis: 1000,
      memMb: 256,
      gpu: 0,
      priority: 0,
      priorityClass: null,
      mayPreempt: false,
      workerGroup: null,
      nodeSelector: {},
      gpuModel: null,
      gpuMemoryMb: null,
      maxAttempts: 3,
      timeoutSeconds: 600,
    });
    const full = admit(
      submission({ cpu: 4, mem_mb: 1024, gpu: 2, priority: 7, worker_group: 'gpu', node_selector: { zone: 'eu-1' }, gpu_model: 'A100', gpu_memory_mb: 40_960, max_attempts: 1, timeout_seconds: 30 }),
      policy,
    );
    expect(full).toMatchObject({ cpuMillis: 4000, memMb: 1024, gpu: 2, priority: 7, workerGroup: 'gpu', nodeSelector: { zone: 'eu-1' }, gpuModel: 'A100', gpuMemoryMb: 40_960, maxAttempts: 1, timeoutSeconds: 30 });
  });

  it('refuses a task type without a runner, and params its runner refuses, with the runner\'s details', () => {
    const unknown = refusalOf(submission({ task_type: 'nope' }));
    expect(unknown).toMatchObject({ code: ApiErrorCode.UnknownTaskType, message: 'unknown task type "nope"', details: [{ field: 'task_type', problem: 'no runner for this task type' }] });
    const invalid = refusalOf(submission({ params: { seconds: -1 } }));
    expect(invalid).toMatchObject({ code: ApiErrorCode.InvalidParams, message: 'seconds must be a positive number', details: [{ field: 'params.seconds', problem: 'a positive number' }] });
    // Absent params are checked as {}.
    expect(refusalOf(submission({ params: undefined })).code).toBe(ApiErrorCode.InvalidParams);
  });

  it('lets an unexpected error of a runner through as it is', () => {
    const bug = (): never => {
      throw new TypeError('bug');
    };
    const broken: AdmissionPolicy = { ...policy, taskSpec: () => ({ ...timed, validate: bug }) };
    expect(() => admit(submission(), broken)).toThrow(TypeError);
  });

  it('refuses GPU selectors on a job without GPUs, naming each', () => {
    const both = refusalOf(submission({ gpu_model: 'A100', gpu_memory_mb: 1024 }));
    expect(both).toMatchObject({
      code: ApiErrorCode.ValidationFailed,
      message: 'gpu_model and gpu_memory_mb need gpu > 0',
      details: [
        { field: 'gpu_model', problem: 'only meaningful with gpu > 0' },
        { field: 'gpu_memory_mb', problem: 'only meaningful with gpu > 0' },
      ],
    });
    expect(refusalOf(submission({ gpu: 0, gpu_memory_mb: 1024 })).details).toEqual([{ field: 'gpu_memory_mb', problem: 'only meaningful with gpu > 0' }]);
  });

  it('takes priority and preemption from a configured class, never together with a priority', () => {
    expect(admit(submission({ priority_class: 'urgent' }), policy)).toMatchObject({ priority: 100, priorityClass: 'urgent', mayPreempt: true });
    expect(admit(submission({ priority_class: 'batch' }), policy)).toMatchObject({ priority: -10, priorityClass: 'batch', mayPreempt: false });
    // A plain priority stays below the preempting class and no lower than the lowest class.
    expect(admit(submission({ priority: 99 }), policy)).toMatchObject({ priority: 99, priorityClass: null, mayPreempt: false });
    expect(admit(submission({ priority: -10 }), policy)).toMatchObject({ priority: -10 });
    for (const priority of [100, 2_147_483_647, -11]) {
      expect(refusalOf(submission({ priority }))).toMatchObject({
        code: 'validation_failed',
        details: [{ field: 'priority', problem: 'must be between -10 and 99' }],
      });
    }
    expect(refusalOf(submission({ priority_class: 'urgent', priority: 5 }))).toMatchObject({
      code: ApiErrorCode.ValidationFailed,
      message: 'give priority or priority_class, not both',
      details: [{ field: 'priority_class', problem: 'cannot be combined with priority' }],
    });
    // 422 like an unknown task type: the classes are the deployment's, which the OpenAPI document cannot list.
    expect(refusalOf(submission({ priority_class: 'vip' }))).toMatchObject({
      code: ApiErrorCode.UnknownPriorityClass,
      message: 'unknown priority_class "vip"; the classes are batch, urgent',
      details: [{ field: 'priority_class', problem: 'one of batch, urgent' }],
    });
  });
});

describe(specOf.name, () => {
  it('keeps only what decides what runs, so a stored job compares with a new submission', () => {
    const spec = admit(submission({ gpu: 1, gpu_model: 'T4' }), policy);
    expect(specOf({ ...spec, id: 'job-1', tenantId: 'acme', createdAt: new Date() } as typeof spec)).toEqual(spec);
  });
});
