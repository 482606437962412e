import { execFileSync, spawnSync } from 'node:child_process';
import { get } from 'node:http';
import { join } from 'node:path';
import { env } from './api';
import { ROOT, stack } from './stack-env';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every sample of a Prometheus text exposition (label values without escapes, which ours never need). */
export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[pair[1]] = pair[2];
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `labels` (undefined when there is none). */
export function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const matching = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return matching.length === 0 ? undefined : matching.reduce((sum, s) => sum + s.value, 0);
}

/** The metric families a scrape declares (`# TYPE` lines). */
export function families(text: string): Set<string> {
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
}

/** Where the stack's processes serve /metrics: the API on its own port, control and nodes on theirs. */
export function metricsUrl(process: 'api' | 'control' | string): string {
  if (process === 'api') return `${env.apiUrl}/metrics`;
  return `http://127.0.0.1:${stack(env, 'metrics-port', process)}/metrics`;
}

/**
 * GET /metrics on a connection of its own. `promtoolCheck` blocks this process between scrapes, for a while the first
 * time (it installs promtool): a kept-alive socket can meanwhile be closed by its server, and fetch would reuse it
 * ("other side closed").
 */
export async function scrape(url: string): Promise<string> {
  const { status, contentType, body } = await new Promise<{ status?: number; contentType?: string; body: string }>((resolve, reject) => {
    get(url, { agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode, contentType: response.headers['content-type'], body }));
      response.on('error', reject);
    }).on('error', reject);
  });
  if (status !== 200) throw new Error(`GET ${url}: ${status}`);
  expect(contentType).toMatch(/^text\/plain/);
  return body;
}

let promtool: string | undefined;

/** `promtool check metrics` on a scrape: its exit status and what it printed (problems, one per line). */
export function promtoolCheck(text: string): { status: number | null; output: string } {
  // Installs Debian's prometheus package (for promtool) the first time, when it is missing.
  promtool ??= execFileSync('bash', [join(ROOT, 'scripts/install-promtool.sh')], { encoding: 'utf8' }).trim();
  const result = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}
