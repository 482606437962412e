import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { loadConfig } from '@mlis/config';
import { CONTROL_TASK_QUEUE, type Placement } from '@mlis/contracts';
import { jobWorkflowStarts } from '@mlis/metrics';
import { JobWorkflowStarter, type JobToStart } from './job-workflow-starter';

const JOB: JobToStart = {
  id: 'job-1',
  tenantId: 'acme',
  taskType: 'sleep',
  params: { seconds: 1 },
  paramsArtifactId: null,
  maxAttempts: 3,
  timeoutSeconds: 60,
  requestId: null,
};
const PLACEMENT: Placement = { assignmentId: 'a-1', attempt: 1, nodeId: 'cpu-1', group: 'cpu', taskQueue: 'mlis-node-cpu-1', gpuIds: [] };

/** A client whose starts answer as the server does: with the first task when one was asked for and `eager` allows. */
function clientThat(eager: boolean) {
  const starts: Record<string, unknown>[] = [];
  const signalsWithStart: Record<string, unknown>[] = [];
  const client = {
    workflow: {
      start: async (_type: string, options: Record<string, unknown>) => {
        if (starts.some((s) => s.workflowId === options.workflowId)) throw new WorkflowExecutionAlreadyStartedError('started', String(options.workflowId), 'job');
        starts.push(options);
        return { workflowId: options.workflowId, eagerlyStarted: eager && options.requestEagerStart === true };
      },
      signalWithStart: async (_type: string, options: Record<string, unknown>) => {
        signalsWithStart.push(options);
        return { workflowId: options.workflowId };
      },
    },
  };
  return { client: client as unknown as Client, starts, signalsWithStart };
}

async function startsCounted(firstTask: 'eager' | 'queued'): Promise<number> {
  return (await jobWorkflowStarts.get()).values.find((value) => value.labels.first_task === firstTask)?.value ?? 0;
}

describe(JobWorkflowStarter.name, () => {
  const scheduling = loadConfig({}).scheduling;

  it('asks for every start to come back with the first task, and counts where the first task went (ADR 0052)', async () => {
    const eager = clientThat(true);
    const queued = clientThat(false);
    const [eagerBefore, queuedBefore] = [await startsCounted('eager'), await startsCounted('queued')];

    expect(await new JobWorkflowStarter(eager.client, scheduling, false).start(JOB, PLACEMENT)).toBe(true);
    expect(await new JobWorkflowStarter(queued.client, scheduling, false).start(JOB)).toBe(true);

    expect(eager.starts[0]).toMatchObject({ taskQueue: CONTROL_TASK_QUEUE, workflowId: 'job-job-1', requestEagerStart: true });
    expect(queued.starts[0]).toMatchObject({ requestEagerStart: true });
    expect([await startsCounted('eager'), await startsCounted('queued')]).toEqual([eagerBefore + 1, queuedBefore + 1]);
  });

  it('answers false for a job whose workflow exists, and counts no start', async () => {
    const { client } = clientThat(true);
    const starter = new JobWorkflowStarter(client, scheduling, false);
    await starter.start(JOB);
    const before = await startsCounted('eager');
    expect(await starter.start(JOB)).toBe(false);
    expect(await startsCounted('eager')).toBe(before);
  });

  it('signals a placement with a start that asks for no first task: the SDK refuses eager signal-with-start', async () => {
    const { client, signalsWithStart } = clientThat(true);
    expect(await new JobWorkflowStarter(client, scheduling, false).signalPlaced(JOB)).toBe(true);
    expect(signalsWithStart).toHaveLength(1);
    expect(signalsWithStart[0]).not.toHaveProperty('requestEagerStart');
  });
});
