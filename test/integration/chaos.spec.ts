import { chaosTable, runChaos } from '../chaos/chaos-run';

// The short chaos run of `npm test`: at least 50 faults of every kind but the network partition and the full disk
// (docs/validation/chaos.md says why) while jobs run; every invariant must hold after quiescence.
describe('chaos (short run)', () => {
  jest.setTimeout(900_000);

  it('keeps every invariant through 50 faults', async () => {
    const options = {
      jobs: 150,
      faults: 50,
      // Submissions over 100 s; the faults' recoveries alone take longer (about 180 s), so faults are paced only at first.
      durationMs: 100_000,
      quiesceMs: 300_000,
      // The seed fixes the faults: 16 node kills, 3 freezes, 14 control kills, 5 API kills, 6 Temporal kills, 6 Postgres crashes.
      seed: 8,
      weights: { node_kill: 5, node_freeze: 1, node_partition: 0, control_kill: 2, api_kill: 1, temporal_kill: 1, postgres_crash: 1, disk_full: 0 },
      log: (line: string) => process.stderr.write(`[chaos] ${line}\n`),
    };
    const report = await runChaos(options);
    console.log(chaosTable(report, options));
    expect(Object.values(report.faults).reduce((sum, fault) => sum + fault.count, 0)).toBe(50);
    expect(report.jobs.accepted).toBe(150);
    for (const [kind, weight] of Object.entries(options.weights)) {
      expect({ kind, count: report.faults[kind as keyof typeof report.faults].count > 0 }).toEqual({ kind, count: weight > 0 });
    }
    expect(report.invariants).toEqual(Object.fromEntries(Object.keys(report.invariants).map((name) => [name, []])));
  });
});
