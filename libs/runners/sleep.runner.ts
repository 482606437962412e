import { ParamsChecker } from './params-checker';
import type { RunContext, Runner } from './runner';

export interface SleepParams {
  seconds: number;
}

export interface SleepResult {
  slept: number;
}

export const MAX_SLEEP_SECONDS = 86_400;

/** The seed's `sleep` task: waits, heartbeating, and stops at once when cancelled. */
export const sleepRunner: Runner<SleepParams, SleepResult> = {
  taskType: 'sleep',
  description: 'Sleeps for params.seconds (default 1, at most one day), heartbeating; cancellable.',

  validate(params: unknown): SleepParams {
    const check = new ParamsChecker('sleep', params, ['seconds']);
    const seconds = check.number('seconds', { min: 0, exclusiveMin: true, max: MAX_SLEEP_SECONDS }, 1);
    return check.result({ seconds });
  },

  async run({ seconds }: SleepParams, context: RunContext): Promise<SleepResult> {
    await context.sleep(seconds * 1000);
    return { slept: seconds };
  },
};
