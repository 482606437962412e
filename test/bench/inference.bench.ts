import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadModelConfig, type ModelConfig } from '@mlis/config';
import { ModelHost } from '@mlis/models';
import { createInferenceRunner, inferenceTask, type EmbedResult, type RunContext } from '@mlis/runners';
import { percentile } from './support/stats';

// `npm run bench:inference`: the `inference` runner on one node's model host (warm pool, batcher, onnxruntime-node,
// all-MiniLM-L6-v2 int8), in this process, as a node runs it: cold load, warm latency, jobs/s for 200 `embed` jobs
// with batching off and on, what the batch window costs a lone request, and this process's peak RSS.
// Writes its table into docs/benchmarks.md.
const ROOT = resolve(__dirname, '../../..');
const JOBS = 200;
const SENTENCES = [
  'The scheduler placed the job on a CPU node in under ten milliseconds.',
  'A kitten is sleeping on the warm windowsill.',
  'Quarterly revenue grew by twelve percent year over year.',
  'The build failed because a dependency could not be downloaded.',
  'She walked along the beach at sunset, listening to the waves.',
  'Restart the worker after changing its configuration file.',
  'The museum opens at nine and closes at five on weekdays.',
  'Latency spiked when the cache was cold after the deployment.',
];

const context: RunContext = {
  jobId: 'bench',
  attempt: 1,
  gpuIds: [],
  heartbeat: () => undefined,
  signal: new AbortController().signal,
  sleep: async () => undefined,
  artifacts: { open: (ref) => Promise.reject(new Error(`the benchmark reads no artifacts (${ref})`)) },
};

function fmt(ms: number): string {
  return ms.toFixed(ms < 10 ? 2 : 1);
}

interface Run {
  label: string;
  concurrency: number;
  jobsPerSecond: number;
  p50: number;
  p99: number;
  meanBatch: number;
}

/** Runs `jobs` single-text embed jobs through the runner, `concurrency` at a time (a node's busy slots). */
async function drive(config: ModelConfig, concurrency: number, jobs: number, label: string): Promise<Run> {
  const models = new ModelHost(config);
  const runner = createInferenceRunner(models);
  const job = (i: number) => inferenceTask.validate({ mode: 'embed', text: `${SENTENCES[i % SENTENCES.length]} (${i})` });
  await runner.run(job(0), context); // load: warm runs only
  const latencies: number[] = [];
  let batchSum = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < jobs) {
        const params = job(next++);
        const t0 = performance.now();
        const result = (await runner.run(params, context)) as EmbedResult;
        latencies.push(performance.now() - t0);
        batchSum += result.batch_size;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await models.close();
  latencies.sort((a, b) => a - b);
  return {
    label,
    concurrency,
    jobsPerSecond: jobs / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    meanBatch: batchSum / jobs,
  };
}

async function coldLoads(config: ModelConfig, times: number): Promise<number[]> {
  const loads: number[] = [];
  for (let i = 0; i < times; i++) {
    const models = new ModelHost(config);
    const t0 = performance.now();
    const result = (await createInferenceRunner(models).run(inferenceTask.validate({ mode: 'embed', text: SENTENCES[0] }), context)) as EmbedResult;
    loads.push(performance.now() - t0);
    if (result.cache !== 'cold') throw new Error('a fresh model host answered warm');
    await models.close();
  }
  return loads.sort((a, b) => a - b);
}

async function main(): Promise<void> {
  const loadBefore = loadavg()[0];
  const base = loadModelConfig();
  const off: ModelConfig = { ...base, batchMaxWaitMs: 0 };
  const on: ModelConfig = { ...base, batchMaxWaitMs: base.batchMaxWaitMs || 5 };
  const cold = await coldLoads(off, 3);
  // One request at a time: the warm latency, and what the window costs a request that has no company.
  const window = (maxSize: number) => `on: wait ${on.batchMaxWaitMs} ms, max ${maxSize}`;
  const alone = await drive(off, 1, JOBS, 'off');
  const aloneWindow = await drive(on, 1, JOBS, window(on.batchMaxSize));
  const rows: Run[] = [alone, aloneWindow];
  // A batch that cannot fill waits out the window: with 4 jobs in flight, max size 4 fills and max size 8 never does.
  for (const [concurrency, maxSizes] of [[4, [4, 8]], [16, [8]]] as const) {
    rows.push(await drive(off, concurrency, JOBS, 'off'));
    for (const batchMaxSize of maxSizes) rows.push(await drive({ ...on, batchMaxSize }, concurrency, JOBS, window(batchMaxSize)));
  }
  const peakRssMb = process.resourceUsage().maxRSS / 1024;

  const table = [
    '| jobs in flight | batching | jobs/s | job p50 ms | job p99 ms | mean batch size |',
    '|---:|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.concurrency} | ${r.label} | ${r.jobsPerSecond.toFixed(0)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.meanBatch.toFixed(2)} |`),
  ];
  const section = [
    '<!-- bench:inference:start -->',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores (${cpus()[0].model.trim()}), Node ${process.version},`,
    `onnxruntime-node on ${base.onnxProviders.join(',')} with ${base.intraOpThreads} intra-op thread(s); 1-minute load average ${loadBefore.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after.`,
    `Runner level, one process standing in for one node: \`createInferenceRunner\` over a \`ModelHost\`, ${JOBS} \`embed\` jobs of one`,
    'sentence (15-20 word pieces) each, a fixed number in flight (a node runs as many as its slots); latency is one job, submit to result.',
    '',
    `- Cold load (fresh model host: tokenizer + session + first request), 3 runs: ${cold.map(fmt).join(', ')} ms`,
    `- Warm, one job at a time: p50 ${fmt(alone.p50)} ms, p99 ${fmt(alone.p99)} ms`,
    `- The batch window alone, one job at a time: p50 ${fmt(aloneWindow.p50)} ms with it vs ${fmt(alone.p50)} ms without (+${fmt(aloneWindow.p50 - alone.p50)} ms)`,
    `- Peak RSS of this process (all runs): ${peakRssMb.toFixed(0)} MB`,
    '',
    ...table,
    '<!-- bench:inference:end -->',
  ].join('\n');
  console.log(section);

  const file = join(ROOT, 'docs/benchmarks.md');
  const current = readFileSync(file, 'utf8');
  const marked = /<!-- bench:inference:start -->[\s\S]*<!-- bench:inference:end -->/;
  writeFileSync(file, marked.test(current) ? current.replace(marked, section) : `${current.trimEnd()}\n\n## Inference (\`npm run bench:inference\`)\n\n${section}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
