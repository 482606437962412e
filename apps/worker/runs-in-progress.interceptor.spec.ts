import type { ActivityExecuteInput } from '@temporalio/worker';
import { nodeRunsInProgress } from '@mlis/metrics';
import { RunsInProgressInterceptor } from './runs-in-progress.interceptor';

async function running(taskType: string): Promise<number> {
  return (await nodeRunsInProgress.get()).values.find((v) => v.labels.task_type === taskType)?.value ?? 0;
}

describe(RunsInProgressInterceptor.name, () => {
  it('counts an attempt while it runs, and stops counting it when it ends, failed ones too', async () => {
    const interceptor = new RunsInProgressInterceptor();
    const input = { args: [{ taskType: 'm-sleep' }], headers: {} } as unknown as ActivityExecuteInput;
    let finish!: () => void;
    const during = interceptor.execute(input, () => new Promise<void>((resolve) => (finish = resolve)));
    expect(await running('m-sleep')).toBe(1);
    finish();
    await during;
    expect(await running('m-sleep')).toBe(0);

    await expect(interceptor.execute(input, async () => Promise.reject(new Error('runner failed')))).rejects.toThrow('runner failed');
    expect(await running('m-sleep')).toBe(0);
  });
});
