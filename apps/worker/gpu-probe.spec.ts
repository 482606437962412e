import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeConfig } from '@mlis/config';
import { GpuProbeError, NVIDIA_SMI_ARGS, parseNvidiaSmi, probeGpus } from './gpu-probe';

const NODE: NodeConfig = {
  nodeId: 'gpu-1',
  apiUrls: ['http://127.0.0.1:8001'],
  group: 'gpu',
  slots: 2,
  cpuMillis: 4000,
  memMb: 8192,
  gpuCount: 2,
  gpuModel: 'simulated',
  gpuMemoryMb: 16384,
  gpuProbe: 'simulated',
  labels: {},
  executionLogFile: null,
  metricsPort: 9465,
  artifactCacheDir: '/nonexistent/artifacts',
  startReportDelayMs: 250,
};

// What nvidia-smi prints for the query on an 8-GPU H100 box, as it ends it: with a newline.
const H100_BOX = Array.from({ length: 8 }, (_, i) => `${i}, NVIDIA H100 80GB HBM3, 81559`).join('\n') + '\n';

describe(parseNvidiaSmi.name, () => {
  it('reads what nvidia-smi printed for the query on a real H200 (driver 580.159.04, CUDA 13.0, recorded 2026-11-27)', () => {
    expect(parseNvidiaSmi('0, NVIDIA H200, 143771\n')).toEqual([{ index: 0, model: 'NVIDIA H200', memory_mb: 143_771 }]);
  });

  it('reads one GPU', () => {
    expect(parseNvidiaSmi('0, NVIDIA H100 80GB HBM3, 81559\n')).toEqual([{ index: 0, model: 'NVIDIA H100 80GB HBM3', memory_mb: 81559 }]);
  });

  it('reads a multi-GPU box, ignoring blank and CRLF line ends', () => {
    const gpus = parseNvidiaSmi(H100_BOX + '\n');
    expect(gpus).toHaveLength(8);
    expect(gpus[7]).toEqual({ index: 7, model: 'NVIDIA H100 80GB HBM3', memory_mb: 81559 });
    expect(parseNvidiaSmi('0, Tesla T4, 15360\r\n1, Tesla T4, 15360\r\n')).toEqual([
      { index: 0, model: 'Tesla T4', memory_mb: 15360 },
      { index: 1, model: 'Tesla T4', memory_mb: 15360 },
    ]);
  });

  it('keeps mixed models in index order, and a name with a comma whole', () => {
    expect(parseNvidiaSmi('1, NVIDIA A100-SXM4-40GB, 40960\n0, NVIDIA GeForce RTX 4090, 24564\n2, Vendor, Model X, 1024')).toEqual([
      { index: 0, model: 'NVIDIA GeForce RTX 4090', memory_mb: 24564 },
      { index: 1, model: 'NVIDIA A100-SXM4-40GB', memory_mb: 40960 },
      { index: 2, model: 'Vendor, Model X', memory_mb: 1024 },
    ]);
  });

  it.each([
    ['[N/A] memory', '0, NVIDIA H100 80GB HBM3, [N/A]\n', /no memory size for GPU 0 \("\[N\/A\]"/],
    ['[Not Supported] memory', '0, NVIDIA H100 80GB HBM3, [Not Supported]\n', /no memory size for GPU 0/],
    ['a driver error printed on stdout', "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n", /cannot parse nvidia-smi line/],
    ['a header line (csv without noheader)', 'index, name, memory.total [MiB]\n0, NVIDIA H100 80GB HBM3, 81559\n', /cannot parse nvidia-smi line "index, name/],
    ['a missing field', '0, 81559\n', /cannot parse/],
    ['no GPUs at all', '\n', /listed no GPUs/],
    ['a duplicate index', '0, A, 1\n0, A, 1\n', /indices 0, 0; expected each of 0..1 once/],
    ['a gap in the indices', '0, A, 1\n2, A, 1\n', /indices 0, 2/],
    ['an over-long model name', `0, ${'x'.repeat(201)}, 1\n`, /longer than 200/],
  ])('refuses %s', (_name, output, message) => {
    expect(() => parseNvidiaSmi(output)).toThrow(GpuProbeError);
    expect(() => parseNvidiaSmi(output)).toThrow(message);
  });
});

describe(probeGpus.name, () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mlis-gpu-probe-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** A stand-in nvidia-smi: records its arguments, then runs `body`. */
  function fakeSmi(body: string): string {
    const path = join(dir, 'nvidia-smi');
    writeFileSync(path, `#!/bin/sh\nprintf '%s\\n' "$@" > "${join(dir, 'args')}"\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  }

  it('advertises the configured simulated GPUs without running anything', async () => {
    await expect(probeGpus(NODE, { command: join(dir, 'absent') })).resolves.toEqual([
      { index: 0, model: 'simulated', memory_mb: 16384 },
      { index: 1, model: 'simulated', memory_mb: 16384 },
    ]);
    await expect(probeGpus({ ...NODE, gpuCount: 0 })).resolves.toEqual([]);
  });

  it('runs nvidia-smi with the query and reads its GPUs, ignoring the simulated settings', async () => {
    const command = fakeSmi(`printf '0, NVIDIA H100 80GB HBM3, 81559\\n1, NVIDIA H100 80GB HBM3, 81559\\n'`);
    const gpus = await probeGpus({ ...NODE, gpuProbe: 'nvidia-smi', gpuCount: 0 }, { command });
    expect(gpus).toEqual([
      { index: 0, model: 'NVIDIA H100 80GB HBM3', memory_mb: 81559 },
      { index: 1, model: 'NVIDIA H100 80GB HBM3', memory_mb: 81559 },
    ]);
    expect(readFileSync(join(dir, 'args'), 'utf8').trim().split('\n')).toEqual(NVIDIA_SMI_ARGS);
  });

  it('says so when nvidia-smi is not installed', async () => {
    const probe = probeGpus({ ...NODE, gpuProbe: 'nvidia-smi' }, { command: join(dir, 'nvidia-smi') });
    await expect(probe).rejects.toThrow(GpuProbeError);
    await expect(probe).rejects.toThrow(/nvidia-smi not found; install the NVIDIA driver, or set MLIS_NODE_GPU_PROBE=simulated/);
  });

  it('reports the exit status and first line of what a failing nvidia-smi said', async () => {
    const command = fakeSmi(`echo "No devices were found" >&2\nexit 6`);
    await expect(probeGpus({ ...NODE, gpuProbe: 'nvidia-smi' }, { command })).rejects.toThrow(/exited with status 6: No devices were found$/);
  });

  it('refuses output it cannot parse', async () => {
    const command = fakeSmi(`echo "0, NVIDIA H100 80GB HBM3, [N/A]"`);
    await expect(probeGpus({ ...NODE, gpuProbe: 'nvidia-smi' }, { command })).rejects.toThrow(/no memory size for GPU 0/);
  });

  it('gives up on an nvidia-smi that hangs', async () => {
    // exec: the sleep itself must receive the kill, or its open stdout would hold the probe.
    const command = fakeSmi('exec sleep 10');
    await expect(probeGpus({ ...NODE, gpuProbe: 'nvidia-smi' }, { command, timeoutMs: 200 })).rejects.toThrow(/did not answer within 0.2 s/);
  });
});
