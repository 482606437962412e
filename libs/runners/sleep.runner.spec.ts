import { fakeArtifacts } from '../../test/support/fake-artifacts';
import { InvalidParamsError, type RunContext } from './runner';
import { sleepRunner } from './sleep.runner';

function fakeContext(slept: number[]): RunContext {
  return {
    jobId: 'job-1',
    attempt: 1,
    gpuIds: [],
    heartbeat: () => undefined,
    signal: new AbortController().signal,
    sleep: async (ms) => {
      slept.push(ms);
    },
    artifacts: fakeArtifacts(),
  };
}

function problems(params: unknown): { field: string; problem: string }[] {
  try {
    sleepRunner.validate(params);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidParamsError);
    return (error as InvalidParamsError).details;
  }
  throw new Error('expected validate to throw');
}

describe('sleepRunner', () => {
  it('defaults to one second and accepts fractional seconds up to a day', () => {
    expect(sleepRunner.validate({})).toEqual({ seconds: 1 });
    expect(sleepRunner.validate(undefined)).toEqual({ seconds: 1 });
    expect(sleepRunner.validate({ seconds: 0.25 })).toEqual({ seconds: 0.25 });
    expect(sleepRunner.validate({ seconds: 86_400 })).toEqual({ seconds: 86_400 });
  });

  it('rejects wrong types, out-of-range values and unknown keys, naming each field', () => {
    expect(problems({ seconds: '1' })).toEqual([{ field: 'params.seconds', problem: 'must be a number' }]);
    expect(problems({ seconds: 0 })).toEqual([{ field: 'params.seconds', problem: 'must be > 0 and <= 86400' }]);
    expect(problems({ seconds: -1 })[0].field).toBe('params.seconds');
    expect(problems({ seconds: 86_401 })[0].field).toBe('params.seconds');
    expect(problems({ seconds: 1, extra: true })).toEqual([{ field: 'params.extra', problem: 'unknown field' }]);
    expect(problems(null)).toEqual([{ field: 'params', problem: 'must be a JSON object' }]);
    expect(problems([1])).toEqual([{ field: 'params', problem: 'must be a JSON object' }]);
  });

  it('sleeps through the context and reports {slept: seconds}', async () => {
    const slept: number[] = [];
    await expect(sleepRunner.run({ seconds: 1.5 }, fakeContext(slept))).resolves.toEqual({ slept: 1.5 });
    expect(slept).toEqual([1500]);
  });
});
