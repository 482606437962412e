import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ParamsChecker } from './params-checker';
import type { RunContext, Runner } from './runner';

const execFileAsync = promisify(execFile);

export interface GpuDemoParams {
  seconds: number;
  matrixSize: number;
}

export interface GpuDemoResult {
  gpu_ids: number[];
  cuda_visible_devices: string;
  simulated: true;
  /** How many devices the kernel process saw through CUDA_VISIBLE_DEVICES. */
  device_count: number;
  matrix_size: number;
  /** Sum of the product matrix: proves the kernel ran, same value on every node. */
  checksum: number;
  seconds: number;
}

// The simulated kernel: a separate process, so CUDA_VISIBLE_DEVICES is set for it alone and
// never in the worker's own environment (concurrent assignments get different GPUs).
// It multiplies two deterministic n x n matrices and reports what it saw.
const KERNEL = `
const n = Number(process.argv[1]);
const a = new Float64Array(n * n), b = new Float64Array(n * n), c = new Float64Array(n * n);
for (let i = 0; i < n * n; i++) { a[i] = ((i * 31) % 17) / 17; b[i] = ((i * 7) % 13) / 13; }
for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) {
  const x = a[i * n + k];
  for (let j = 0; j < n; j++) c[i * n + j] += x * b[k * n + j];
}
let checksum = 0;
for (let i = 0; i < n * n; i++) checksum += c[i];
const visible = process.env.CUDA_VISIBLE_DEVICES ?? '';
process.stdout.write(JSON.stringify({
  cuda_visible_devices: visible,
  device_count: visible === '' ? 0 : visible.split(',').length,
  checksum: Math.round(checksum * 1e6) / 1e6,
}));
`;

interface KernelReport {
  cuda_visible_devices: string;
  device_count: number;
  checksum: number;
}

/** The environment of the work done for an assignment: only the GPUs it was given. */
export function gpuEnvironment(gpuIds: readonly number[]): { CUDA_VISIBLE_DEVICES: string } {
  return { CUDA_VISIBLE_DEVICES: gpuIds.join(',') };
}

async function runKernel(matrixSize: number, env: Record<string, string>, signal: AbortSignal): Promise<KernelReport> {
  const { stdout } = await execFileAsync(process.execPath, ['-e', KERNEL, String(matrixSize)], { env, signal });
  return JSON.parse(stdout) as KernelReport;
}

/** The seed's `gpu_demo` task: runs a simulated kernel on the assigned GPU ids and reports them. */
export const gpuDemoRunner: Runner<GpuDemoParams, GpuDemoResult> = {
  taskType: 'gpu_demo',
  description: 'Runs a simulated GPU kernel with CUDA_VISIBLE_DEVICES set to the assigned GPU ids.',

  validate(params: unknown): GpuDemoParams {
    const check = new ParamsChecker('gpu_demo', params, ['seconds', 'matrix_size']);
    const seconds = check.number('seconds', { min: 0, max: 86_400 }, 0.5);
    const matrixSize = check.number('matrix_size', { min: 1, max: 512, integer: true }, 64);
    return check.result({ seconds, matrixSize });
  },

  async run({ seconds, matrixSize }: GpuDemoParams, context: RunContext): Promise<GpuDemoResult> {
    const [report] = await Promise.all([
      runKernel(matrixSize, gpuEnvironment(context.gpuIds), context.signal),
      context.sleep(seconds * 1000),
    ]);
    return {
      gpu_ids: [...context.gpuIds],
      cuda_visible_devices: report.cuda_visible_devices,
      simulated: true,
      device_count: report.device_count,
      matrix_size: matrixSize,
      checksum: report.checksum,
      seconds,
    };
  },
};
