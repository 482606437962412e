import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STATE_DIR } from '../integration/support/stack-env';
import { chaosTable, runChaos } from './chaos-run';

// `npm run chaos`: the full run (MLIS_CHAOS_JOBS jobs, MLIS_CHAOS_FAULTS faults, default 2,000 and 200) against a
// fresh integration stack. The table goes to .mlis/test-stack/chaos-report.md for docs/validation/chaos.md.
const number = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);

describe('chaos (full run)', () => {
  const jobs = number('MLIS_CHAOS_JOBS', 2000);
  const faults = number('MLIS_CHAOS_FAULTS', 200);
  const minutes = number('MLIS_CHAOS_MINUTES', 20);
  // Submitting and faulting (paced to `minutes`, longer when the faults' own recoveries take more), quiescence
  // (at most 15 min) and the checks.
  jest.setTimeout((minutes * 1.5 + 30) * 60_000);

  it(`keeps every invariant through ${faults} faults over ${jobs} jobs`, async () => {
    const options = {
      jobs,
      faults,
      durationMs: minutes * 60_000,
      quiesceMs: 15 * 60_000,
      seed: number('MLIS_CHAOS_SEED', 1),
      weights: { node_kill: 4, node_freeze: 2, node_partition: 2, control_kill: 2, api_kill: 2, temporal_kill: 1, postgres_crash: 1, disk_full: 1 },
      log: (line: string) => process.stderr.write(`[chaos] ${line}\n`),
    };
    const report = await runChaos(options);
    const table = chaosTable(report, options);
    writeFileSync(join(STATE_DIR, 'chaos-report.md'), `${table}\n`);
    console.log(table);
    expect(report.jobs.accepted).toBe(jobs);
    expect(report.invariants).toEqual(Object.fromEntries(Object.keys(report.invariants).map((name) => [name, []])));
  });
});
