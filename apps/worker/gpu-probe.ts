import { execFile } from 'node:child_process';
import type { NodeConfig } from '@mlis/config';

/** One GPU as the node advertises it at registration. */
export interface AdvertisedGpu {
  index: number;
  model: string;
  memory_mb: number;
}

/** The node cannot tell which GPUs it has: it must not start rather than advertise wrong ones. */
export class GpuProbeError extends Error {}

export const NVIDIA_SMI_ARGS = ['--query-gpu=index,name,memory.total', '--format=csv,noheader,nounits'];
const DEFAULT_TIMEOUT_MS = 10_000;
// What the API accepts for a model name (GpuDeviceDto).
const MAX_MODEL_LENGTH = 200;

export interface ProbeOptions {
  /** The nvidia-smi executable; a name is looked up on PATH. */
  command?: string;
  timeoutMs?: number;
}

/** MLIS_NODE_GPUS identical GPUs of MLIS_NODE_GPU_MODEL / MLIS_NODE_GPU_MEMORY_MB, numbered 0..n-1. */
export function simulatedGpus(node: Pick<NodeConfig, 'gpuCount' | 'gpuModel' | 'gpuMemoryMb'>): AdvertisedGpu[] {
  return Array.from({ length: node.gpuCount }, (_, index) => ({ index, model: node.gpuModel, memory_mb: node.gpuMemoryMb }));
}

/**
 * Parses `nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader,nounits`, one GPU a
 * line (`0, NVIDIA H100 80GB HBM3, 81559`). Anything else is an error, as are indices that are not
 * exactly 0..n-1 (the API refuses them: they become CUDA_VISIBLE_DEVICES ids).
 */
export function parseNvidiaSmi(output: string): AdvertisedGpu[] {
  const lines = output.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '');
  if (lines.length === 0) {
    throw new GpuProbeError('nvidia-smi listed no GPUs; on a node without GPUs use MLIS_NODE_GPU_PROBE=simulated with MLIS_NODE_GPUS=0');
  }
  const gpus = lines.map((line) => {
    // The name is everything between the first and the last comma.
    const match = /^(\d+)\s*,\s*(.+?)\s*,\s*([^,]+)$/.exec(line);
    if (!match) throw new GpuProbeError(`cannot parse nvidia-smi line "${line}": expected "index, name, memory MiB"`);
    const [, index, model, memory] = match;
    if (!/^\d+$/.test(memory)) throw new GpuProbeError(`nvidia-smi reports no memory size for GPU ${index} ("${memory}" in line "${line}")`);
    if (model.length > MAX_MODEL_LENGTH) throw new GpuProbeError(`GPU ${index} model name is longer than ${MAX_MODEL_LENGTH} characters`);
    return { index: Number(index), model, memory_mb: Number(memory) };
  });
  const indices = gpus.map((gpu) => gpu.index).sort((a, b) => a - b);
  if (!indices.every((index, position) => index === position)) {
    throw new GpuProbeError(`nvidia-smi listed GPU indices ${indices.join(', ')}; expected each of 0..${gpus.length - 1} once`);
  }
  return gpus.sort((a, b) => a.index - b.index);
}

function runNvidiaSmi(command: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    // No shell: the arguments are fixed, and the output is read as plain text.
    execFile(command, NVIDIA_SMI_ARGS, { timeout: timeoutMs, maxBuffer: 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const failure = error as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
      if (failure.code === 'ENOENT') {
        return reject(new GpuProbeError(`${command} not found; install the NVIDIA driver, or set MLIS_NODE_GPU_PROBE=simulated`));
      }
      if (failure.killed) return reject(new GpuProbeError(`${command} did not answer within ${timeoutMs / 1000} s`));
      const said = `${stderr}\n${stdout}`.trim().split('\n')[0] ?? '';
      const status = typeof failure.code === 'number' ? `exited with status ${failure.code}` : `failed (${failure.code ?? failure.message})`;
      reject(new GpuProbeError(`${command} ${status}${said ? `: ${said}` : ''}`));
    });
  });
}

/** The GPUs this node advertises: the configured simulated ones, or what nvidia-smi lists. */
export async function probeGpus(node: NodeConfig, options: ProbeOptions = {}): Promise<AdvertisedGpu[]> {
  if (node.gpuProbe === 'simulated') return simulatedGpus(node);
  return parseNvidiaSmi(await runNvidiaSmi(options.command ?? 'nvidia-smi', options.timeoutMs ?? DEFAULT_TIMEOUT_MS));
}
