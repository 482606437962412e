import { runPeriodicSteps } from './periodic-steps';

describe(runPeriodicSteps.name, () => {
  it('runs every step in order, reporting the ones that fail without skipping those after them', async () => {
    const ran: string[] = [];
    const failures: [string, unknown][] = [];
    const cycleDown = new Error('connection refused');
    await runPeriodicSteps(
      [
        ['cycle', async () => Promise.reject(cycleDown)],
        ['stale placements', async () => void ran.push('stale placements')],
        ['stale preemptions', async () => void ran.push('stale preemptions')],
      ],
      (step, error) => failures.push([step, error]),
    );
    expect(ran).toEqual(['stale placements', 'stale preemptions']);
    expect(failures).toEqual([['cycle', cycleDown]]);
  });
});
