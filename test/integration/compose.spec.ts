import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EXPECTED_SEARCH_ATTRIBUTES, searchAttributesCreated } from '../support/search-attribute-command';
import { env } from './support/api';
import { stack } from './support/stack-env';

const ROOT = resolve(__dirname, '../..');
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
const text = readFileSync(COMPOSE_FILE, 'utf8');

interface ComposeService {
  environment: Record<string, string>;
  command: string[];
  ports: string[];
  containerName?: string;
  /** The healthcheck's `test` (CMD form). */
  healthcheck?: string[];
}

// With the compose plugin, `docker compose config` validates and resolves the file (anchors, merges, $$);
// it needs no engine. Without it (this machine), a line-based reading of our own fixed two-space layout.
const composeAvailable = spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0;

/** A service as `docker compose config --format json` prints it. */
interface ResolvedService {
  environment?: Record<string, string>;
  command?: string[];
  ports?: { host_ip?: string; published?: string }[];
  container_name?: string;
  healthcheck?: { test?: string[] };
}

function fromDockerCompose(): Record<string, ComposeService> {
  // Every profile, so the optional services (observability, scale) are checked too.
  const compose = ['compose', '-f', COMPOSE_FILE, '--profile', '*'];
  execFileSync('docker', [...compose, 'config', '--quiet']);
  const config = JSON.parse(
    execFileSync('docker', [...compose, 'config', '--format', 'json'], { encoding: 'utf8' }),
  ) as { services: Record<string, ResolvedService> };
  const services: Record<string, ComposeService> = {};
  for (const [name, service] of Object.entries(config.services)) {
    services[name] = {
      environment: service.environment ?? {},
      command: service.command ?? [],
      ports: (service.ports ?? []).map((port) => `${port.host_ip ?? ''}:${port.published ?? ''}`),
      containerName: service.container_name,
      healthcheck: service.healthcheck?.test,
    };
  }
  return services;
}

function fromText(): Record<string, ComposeService> {
  const lines = text.split('\n');
  const anchors: Record<string, Record<string, string>> = {};
  // A healthcheck written once (`healthcheck: &name`) and reused (`healthcheck: *name`).
  const healthchecks: Record<string, string> = {};
  let healthcheckAnchor: string | undefined;
  const services: Record<string, ComposeService> = {};
  let anchor: string | undefined;
  let service: ComposeService | undefined;
  let inServices = false;
  let block: 'environment' | 'ports' | 'command' | 'healthcheck' | undefined;
  for (const line of lines) {
    const top = /^([\w-]+):(?: &([\w-]+))?/.exec(line);
    if (top) {
      inServices = top[1] === 'services';
      anchor = top[2];
      if (anchor) anchors[anchor] = {};
      service = undefined;
      continue;
    }
    const second = /^ {2}([\w-]+):/.exec(line);
    if (inServices && second) {
      service = { environment: {}, command: [], ports: [] };
      services[second[1]] = service;
      block = undefined;
      continue;
    }
    if (anchor && !inServices) {
      const entry = /^ {2}(\w+): (.*)$/.exec(line);
      if (entry) anchors[anchor][entry[1]] = entry[2];
      continue;
    }
    if (!service) continue;
    const key = /^ {4}([\w_]+):\s*(.*)$/.exec(line);
    if (key) {
      block = key[1] === 'environment' || key[1] === 'ports' || key[1] === 'command' || key[1] === 'healthcheck' ? key[1] : undefined;
      if (key[1] === 'container_name') service.containerName = key[2];
      if (key[1] === 'command' && key[2].startsWith('[')) service.command = JSON.parse(key[2]) as string[];
      if (key[1] === 'healthcheck') {
        healthcheckAnchor = /^&([\w-]+)$/.exec(key[2])?.[1];
        const alias = /^\*([\w-]+)$/.exec(key[2])?.[1];
        if (alias) service.healthcheck = JSON.parse(healthchecks[alias]) as string[];
      }
      continue;
    }
    const merge = /^ {6}<<: \*([\w-]+)/.exec(line);
    if (merge && block === 'environment') Object.assign(service.environment, anchors[merge[1]]);
    const env = /^ {6}(\w+): (.*)$/.exec(line);
    if (env && block === 'environment') service.environment[env[1]] = env[2];
    const item = /^ {6}- "?([^"]*)"?$/.exec(line);
    if (item && block === 'ports') service.ports.push(item[1].split(':').slice(0, 2).join(':'));
    if (item && block === 'command') service.command.push(item[1]);
    const probe = /^ {6}test: (\[.*\])$/.exec(line);
    if (probe && block === 'healthcheck') {
      service.healthcheck = JSON.parse(probe[1]) as string[];
      if (healthcheckAnchor) healthchecks[healthcheckAnchor] = probe[1];
    }
  }
  return services;
}

const services = composeAvailable ? fromDockerCompose() : fromText();
const appServices = ['api', 'control', 'worker', 'gpu-worker', 'migrate'];

// Every variable libs/config reads is listed in .env.example.
const configVariables = new Set(
  readFileSync(join(ROOT, '.env.example'), 'utf8')
    .split('\n')
    .map((line) => /^([A-Z][A-Z0-9_]*)=/.exec(line)?.[1])
    .filter((name): name is string => Boolean(name)),
);

describe(`docker-compose.yml (read by ${composeAvailable ? 'docker compose config' : 'a line parser: no docker compose here'})`, () => {
  it('declares the whole stack', () => {
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining(['postgres', 'temporal', 'temporal-ui', 'temporal-setup', 'secrets', ...appServices]),
    );
  });

  it('gives the MLIS processes only variables that libs/config reads, and the connections they need', () => {
    for (const name of appServices) {
      const variables = Object.keys(services[name].environment);
      expect({ name, unknown: variables.filter((variable) => !configVariables.has(variable)) }).toEqual({ name, unknown: [] });
      expect(variables).toEqual(expect.arrayContaining(['DATABASE_URL', 'TEMPORAL_ADDRESS']));
    }
  });

  it('runs api, control and nodes as a runtime role that does not own the tables; migrate as the owner, which grants it', () => {
    const role = (url: string) => decodeURIComponent(new URL(url).username);
    const runtime = role(services.api.environment.DATABASE_URL);
    const owner = role(services.migrate.environment.MLIS_MIGRATION_DATABASE_URL);
    expect(runtime).not.toBe(owner);
    for (const name of ['control', 'worker', 'gpu-worker', 'migrate']) expect(role(services[name].environment.DATABASE_URL)).toBe(runtime);
    expect(text).toContain('./db/postgres-init:/docker-entrypoint-initdb.d:ro');
    expect(readFileSync(join(ROOT, 'db/postgres-init/01-runtime-role.sql'), 'utf8')).toContain(`CREATE ROLE ${runtime} LOGIN`);
  });

  it('runs entry points that the build produces', () => {
    for (const name of appServices) {
      const entry = services[name].command.join(' ').match(/dist\/([\w/-]+)\.js/);
      expect({ name, entry: entry?.[1] }).toEqual({ name, entry: expect.any(String) });
      expect({ name, source: existsSync(join(ROOT, `${entry?.[1]}.ts`)) }).toEqual({ name, source: true });
    }
  });

  it('lets the worker scale: no fixed container name or published port, a node id per replica', () => {
    expect(services.worker.containerName).toBeUndefined();
    expect(services.worker.ports).toEqual([]);
    expect(services.worker.command.join(' ')).toContain('MLIS_NODE_ID=');
  });

  it('offers a second api and control process under the "scale" profile, the api on a port of its own and known to the nodes', () => {
    expect(text).toMatch(/^ {2}api-2:\n {4}<<: \*mlis-app\n {4}profiles: \["scale"\]\n/m);
    expect(text).toMatch(/^ {2}control-2:\n {4}<<: \*mlis-app\n {4}profiles: \["scale"\]\n/m);
    expect(services['api-2'].ports).toEqual(['127.0.0.1:8002']);
    expect(services['api-2'].command).toEqual(services.api.command);
    expect(services['control-2'].command).toEqual(services.control.command);
    // The nodes reach either api, the first preferred (ADR 0053).
    for (const name of ['worker', 'gpu-worker']) {
      expect({ name, apis: services[name].environment.MLIS_NODE_API_URLS?.split(',') }).toEqual({ name, apis: ['http://api:8001', 'http://api-2:8001'] });
    }
  });

  it('creates every search attribute the workflows set, each name with its type', () => {
    expect(searchAttributesCreated(services['temporal-setup'].command)).toEqual(EXPECTED_SEARCH_ATTRIBUTES);
  });

  it("gives Temporal's task queues one partition, as temporal/dev-server.sh does (ADR 0032)", () => {
    const file = services.temporal.environment.DYNAMIC_CONFIG_FILE_PATH;
    expect(file).toBe('config/dynamicconfig/mlis.yaml');
    // The image runs from /etc/temporal, where the mounted file lands.
    expect(text).toContain(`./temporal/dynamicconfig/compose.yaml:/etc/temporal/${file}:ro`);
    const settings = readFileSync(join(ROOT, 'temporal/dynamicconfig/compose.yaml'), 'utf8');
    const devServer = readFileSync(join(ROOT, 'temporal/dev-server.sh'), 'utf8');
    for (const setting of ['matching.numTaskqueueReadPartitions', 'matching.numTaskqueueWritePartitions']) {
      expect(settings).toMatch(new RegExp(`^${setting.replace(/\./g, '\\.')}:\n {2}- value: 1$`, 'm'));
      expect(devServer).toContain(`--dynamic-config-value ${setting}=1`);
    }
  });

  it('checks the health of the api and the nodes with node itself, whose probe tells ready from not ready', () => {
    const probes = Object.fromEntries(['api', 'api-2', 'worker', 'gpu-worker'].map((name) => [name, services[name].healthcheck]));
    for (const [name, probe] of Object.entries(probes)) expect({ name, runs: probe?.slice(0, 3) }).toEqual({ name, runs: ['CMD', 'node', '-e'] });
    expect(probes['api-2']).toEqual(probes.api);
    expect(probes['gpu-worker']).toEqual(probes.worker);
    // Each probe as the container runs it, against this stack's process: only the port is this stack's.
    const exitOf = (probe: string[] | undefined, port: string): number | null => {
      const script = (probe?.[3] ?? '').replace(/127\.0\.0\.1:\d+\//, `127.0.0.1:${port}/`);
      expect(script).toContain(`127.0.0.1:${port}/health/ready`);
      return spawnSync(process.execPath, ['-e', script], { timeout: 10_000 }).status;
    };
    expect(exitOf(probes.api, new URL(env.apiUrl).port)).toBe(0);
    expect(exitOf(probes.worker, stack(env, 'metrics-port', 'cpu-1'))).toBe(0);
    // Control serves /metrics but no readiness (404); nothing listens on port 1.
    expect(exitOf(probes.worker, stack(env, 'metrics-port', 'control'))).toBe(1);
    expect(exitOf(probes.worker, '1')).toBe(1);
  });

  it('publishes ports on 127.0.0.1 only', () => {
    const published = Object.values(services).flatMap((service) => service.ports);
    expect(published.length).toBeGreaterThan(0);
    for (const port of published) expect(port).toMatch(/^127\.0\.0\.1:\d+$/);
  });
});
