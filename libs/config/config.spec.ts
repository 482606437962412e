import { ConfigError, loadConfig, loadModelConfig, loadNodeConfig, plainPriorityRange } from './config';

describe('scheduling config', () => {
  it('parses priority classes, only the marked ones preempting', () => {
    expect(loadConfig({ MLIS_PRIORITY_CLASSES: 'batch:-5, normal:0,critical:1000:preempting' }).scheduling.priorityClasses).toEqual([
      { name: 'batch', priority: -5, preempting: false },
      { name: 'normal', priority: 0, preempting: false },
      { name: 'critical', priority: 1000, preempting: true },
    ]);
    expect(loadConfig({}).scheduling.priorityClasses.filter((c) => c.preempting).map((c) => c.name)).toEqual(['urgent']);
  });

  it('refuses a malformed or duplicated priority class', () => {
    expect(() => loadConfig({ MLIS_PRIORITY_CLASSES: 'urgent:high' })).toThrow(ConfigError);
    expect(() => loadConfig({ MLIS_PRIORITY_CLASSES: 'a:1,a:2' })).toThrow(/names a class twice/);
    expect(() => loadConfig({ MLIS_PRIORITY_CLASSES: 'a:1:evicting' })).toThrow(/name:priority\[:preempting\]/);
  });

  it('refuses a preempting class at or below the priority of a job that names none', () => {
    expect(() => loadConfig({ MLIS_PRIORITY_CLASSES: 'batch:-10,urgent:0:preempting' })).toThrow(/preempting class needs a priority above 0/);
  });

  it('bounds a plain priority from the lowest of 0 and the classes to just below the first preempting class', () => {
    const range = (classes: string) => plainPriorityRange(loadConfig({ MLIS_PRIORITY_CLASSES: classes }).scheduling.priorityClasses);
    expect(range('low:-10,normal:0,high:10,urgent:100:preempting')).toEqual({ min: -10, max: 99 });
    expect(range('normal:5,urgent:50:preempting,critical:1000:preempting')).toEqual({ min: 0, max: 49 });
    expect(range('batch:-5,normal:0')).toEqual({ min: -5, max: 0 });
    expect(plainPriorityRange([])).toEqual({ min: 0, max: 0 });
  });

  it('has cycle defaults and accepts aging 0 (off)', () => {
    const { scheduling } = loadConfig({ MLIS_SCHEDULER_AGING_SECONDS: '0' });
    expect(scheduling).toMatchObject({ agingSeconds: 0, laneWindow: 32, holdDepth: 16, cycleIntervalSeconds: 10 });
  });

  it("refuses a lease the node's 1 s heartbeat would race, and a period longer than Node's timers take", () => {
    expect(() => loadConfig({ MLIS_LEASE_SECONDS: '1' })).toThrow('MLIS_LEASE_SECONDS must be >= 2, got 1');
    expect(loadConfig({ MLIS_LEASE_SECONDS: '2' }).scheduling.leaseSeconds).toBe(2);
    // 30 days: Node would run such a timer every millisecond.
    for (const name of ['MLIS_SCHEDULER_CYCLE_INTERVAL_SECONDS', 'MLIS_ARTIFACTS_RETENTION_INTERVAL_SECONDS', 'MLIS_NODE_HEARTBEAT_SECONDS']) {
      expect(() => loadConfig({ [name]: '2592000' })).toThrow(`${name} must be <= 2147483, got 2592000`);
    }
    expect(loadConfig({ MLIS_ARTIFACTS_RETENTION_INTERVAL_SECONDS: '2147483' }).artifacts.retentionIntervalSeconds).toBe(2147483);
  });
});

describe('temporal config', () => {
  it('runs the SDK core on one thread unless told otherwise, and refuses a count tokio would panic on', () => {
    expect(loadConfig({}).temporal.coreThreads).toBe(1);
    expect(loadConfig({ MLIS_TEMPORAL_CORE_THREADS: '4' }).temporal.coreThreads).toBe(4);
    expect(() => loadConfig({ MLIS_TEMPORAL_CORE_THREADS: '0' })).toThrow('MLIS_TEMPORAL_CORE_THREADS must be >= 1, got 0');
    expect(() => loadConfig({ MLIS_TEMPORAL_CORE_THREADS: 'auto' })).toThrow('MLIS_TEMPORAL_CORE_THREADS must be an integer, got "auto"');
  });
});

describe('node config', () => {
  it('parses labels and the GPU probe', () => {
    const node = loadNodeConfig({ MLIS_NODE_ID: 'gpu-1', MLIS_NODE_LABELS: 'zone=eu-1, rack=r7', MLIS_NODE_GPU_PROBE: 'nvidia-smi' });
    expect(node.labels).toEqual({ zone: 'eu-1', rack: 'r7' });
    expect(node.gpuProbe).toBe('nvidia-smi');
    expect(loadNodeConfig({ MLIS_NODE_ID: 'cpu-1' })).toMatchObject({ labels: {}, gpuProbe: 'simulated' });
  });

  it('refuses a start report delay over 1 s: control withdraws an unreported placement 2 s after its node went (ADR 0038)', () => {
    expect(loadNodeConfig({ MLIS_NODE_ID: 'n' }).startReportDelayMs).toBe(250);
    expect(loadNodeConfig({ MLIS_NODE_ID: 'n', MLIS_NODE_START_REPORT_DELAY_MS: '1000' }).startReportDelayMs).toBe(1000);
    expect(() => loadNodeConfig({ MLIS_NODE_ID: 'n', MLIS_NODE_START_REPORT_DELAY_MS: '1001' })).toThrow('MLIS_NODE_START_REPORT_DELAY_MS must be <= 1000, got 1001');
  });

  it('reaches the APIs of MLIS_NODE_API_URLS in their order, else MLIS_API_URL, else the local API (ADR 0053)', () => {
    expect(loadNodeConfig({ MLIS_NODE_ID: 'n' }).apiUrls).toEqual(['http://127.0.0.1:8001']);
    expect(loadNodeConfig({ MLIS_NODE_ID: 'n', MLIS_API_PORT: '9001' }).apiUrls).toEqual(['http://127.0.0.1:9001']);
    expect(loadNodeConfig({ MLIS_NODE_ID: 'n', MLIS_API_URL: 'http://mlis-api:8001' }).apiUrls).toEqual(['http://mlis-api:8001']);
    const both = { MLIS_NODE_ID: 'n', MLIS_API_URL: 'http://mlis-api:8001', MLIS_NODE_API_URLS: ' http://api:8001/, https://api-2.example:8443 ' };
    expect(loadNodeConfig(both).apiUrls).toEqual(['http://api:8001', 'https://api-2.example:8443']);
    expect(() => loadNodeConfig({ MLIS_NODE_ID: 'n', MLIS_NODE_API_URLS: 'http://api:8001,api-2:8001' })).toThrow(
      'MLIS_NODE_API_URLS must list http(s) URLs, got "api-2:8001"',
    );
  });

  it('refuses a label that is not key=value and an unknown probe', () => {
    expect(() => loadNodeConfig({ MLIS_NODE_ID: 'n', MLIS_NODE_LABELS: 'zone' })).toThrow(/not key=value/);
    expect(() => loadNodeConfig({ MLIS_NODE_ID: 'n', MLIS_NODE_GPU_PROBE: 'rocm' })).toThrow(/simulated or nvidia-smi/);
  });
});

describe('metrics config', () => {
  it('has no tenant label unless top:N asks for one, and metrics ports that 0 turns off', () => {
    expect(loadConfig({}).metrics).toEqual({ host: '127.0.0.1', controlPort: 9464, tenantLabelTopN: null, buildRevision: 'unknown' });
    expect(loadConfig({ MLIS_METRICS_TENANT_LABEL: 'top:5', MLIS_CONTROL_METRICS_PORT: '0' }).metrics).toMatchObject({
      tenantLabelTopN: 5,
      controlPort: 0,
    });
    expect(loadNodeConfig({ MLIS_NODE_ID: 'n' }).metricsPort).toBe(9465);
  });

  it('refuses an unbounded or malformed tenant label setting', () => {
    for (const value of ['on', 'top:0', 'top:101', 'top:', 'all']) {
      expect(() => loadConfig({ MLIS_METRICS_TENANT_LABEL: value })).toThrow(/off or top:N/);
    }
  });
});

describe('tracing config', () => {
  it('is off without an endpoint, and prefers the MLIS_ variable over the standard one', () => {
    expect(loadConfig({}).tracing).toEqual({ otlpEndpoint: null });
    expect(loadConfig({ MLIS_OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_EXPORTER_OTLP_ENDPOINT: ' ' }).tracing.otlpEndpoint).toBeNull();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing.otlpEndpoint).toBe('http://collector:4318');
    expect(
      loadConfig({ MLIS_OTEL_EXPORTER_OTLP_ENDPOINT: 'https://tempo.example/otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing.otlpEndpoint,
    ).toBe('https://tempo.example/otlp');
  });

  it('refuses an endpoint that is not an http(s) URL, naming the variable', () => {
    expect(() => loadConfig({ MLIS_OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/MLIS_OTEL_EXPORTER_OTLP_ENDPOINT must be an http\(s\) URL/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://collector:4317' })).toThrow(/^OTEL_EXPORTER_OTLP_ENDPOINT must be an http\(s\) URL/);
  });
});

describe('model config', () => {
  it('defaults to the installed MiniLM under the machine cache, cpu, one thread and a 5 ms batch window', () => {
    expect(loadModelConfig({ HOME: '/home/u' })).toEqual({
      modelDir: '/home/u/.cache/mlis/models/all-minilm-l6-v2-q-1.19.0-beta29',
      onnxProviders: ['cpu'],
      intraOpThreads: 1,
      cacheBytes: 268_435_456,
      batchMaxSize: 8,
      batchMaxWaitMs: 5,
    });
    expect(loadModelConfig({ MLIS_CACHE_DIR: '/c', MLIS_NODE_ONNX_PROVIDERS: 'cuda, cpu', MLIS_BATCH_MAX_WAIT_MS: '0' })).toMatchObject({
      modelDir: '/c/models/all-minilm-l6-v2-q-1.19.0-beta29',
      onnxProviders: ['cuda', 'cpu'],
      batchMaxWaitMs: 0,
    });
  });

  it('refuses an unknown or repeated provider and a zero batch size', () => {
    expect(() => loadModelConfig({ MLIS_NODE_ONNX_PROVIDERS: 'rocm' })).toThrow(/only list cpu and cuda/);
    expect(() => loadModelConfig({ MLIS_NODE_ONNX_PROVIDERS: 'cpu,cpu' })).toThrow(/twice/);
    expect(() => loadModelConfig({ MLIS_BATCH_MAX_SIZE: '0' })).toThrow(ConfigError);
  });
});

describe('artifacts config', () => {
  it('defaults to the fs store under the state dir, 1 GiB, 7 days', () => {
    const { artifacts } = loadConfig({ MLIS_STATE_DIR: '/var/lib/mlis' });
    expect(artifacts).toEqual({
      backend: 'fs',
      dir: '/var/lib/mlis/artifacts',
      s3: { endpoint: null, bucket: 'mlis-artifacts', region: 'us-east-1', forcePathStyle: true },
      maxBytes: 1024 ** 3,
      defaultExpirySeconds: 7 * 24 * 3600,
      retentionIntervalSeconds: 300,
    });
    expect(loadConfig({ MLIS_STATE_DIR: '/x', MLIS_ARTIFACTS_DIR: '/data/a' }).artifacts.dir).toBe('/data/a');
  });

  it('refuses an unknown backend, a bad flag, and an s3 cap above one CopyObject', () => {
    expect(() => loadConfig({ MLIS_ARTIFACTS_BACKEND: 'gcs' })).toThrow(/fs or s3/);
    expect(() => loadConfig({ MLIS_S3_FORCE_PATH_STYLE: 'yes' })).toThrow(/true or false/);
    expect(() => loadConfig({ MLIS_ARTIFACTS_BACKEND: 's3', MLIS_ARTIFACTS_MAX_BYTES: String(6 * 1024 ** 3) })).toThrow(/at most 5368709120/);
    expect(loadConfig({ MLIS_ARTIFACTS_MAX_BYTES: String(6 * 1024 ** 3) }).artifacts.maxBytes).toBe(6 * 1024 ** 3);
  });
});
