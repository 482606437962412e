/** One piece of control's periodic work: a name for its log line and the work. */
export type PeriodicStep = readonly [name: string, run: () => Promise<unknown>];

/** Runs the steps in turn; one that fails is reported and the next still runs (a failed cycle must not skip the resends). */
export async function runPeriodicSteps(steps: readonly PeriodicStep[], failed: (step: string, error: unknown) => void): Promise<void> {
  for (const [name, run] of steps) {
    try {
      await run();
    } catch (error) {
      failed(name, error);
    }
  }
}
