import { fakeArtifacts } from '../../test/support/fake-artifacts';
import { gpuDemoRunner } from './gpu-demo.runner';
import { InvalidParamsError, type RunContext } from './runner';

function fakeContext(gpuIds: number[], signal = new AbortController().signal): RunContext {
  return { jobId: 'job-1', attempt: 1, gpuIds, heartbeat: () => undefined, signal, sleep: async () => undefined, artifacts: fakeArtifacts() };
}

describe('gpuDemoRunner', () => {
  it('validates seconds and an integer matrix_size, with defaults', () => {
    expect(gpuDemoRunner.validate({})).toEqual({ seconds: 0.5, matrixSize: 64 });
    expect(gpuDemoRunner.validate({ seconds: 0, matrix_size: 8 })).toEqual({ seconds: 0, matrixSize: 8 });
    expect(() => gpuDemoRunner.validate({ matrix_size: 2.5 })).toThrow(InvalidParamsError);
    expect(() => gpuDemoRunner.validate({ matrix_size: 4096 })).toThrow(InvalidParamsError);
    expect(() => gpuDemoRunner.validate({ gpus: 2 })).toThrow(InvalidParamsError);
  });

  it('runs the kernel with CUDA_VISIBLE_DEVICES set to the assigned ids, leaving the worker env alone', async () => {
    const before = process.env.CUDA_VISIBLE_DEVICES;
    const result = await gpuDemoRunner.run({ seconds: 0, matrixSize: 8 }, fakeContext([0, 1]));
    expect(result).toMatchObject({ gpu_ids: [0, 1], cuda_visible_devices: '0,1', device_count: 2, simulated: true, matrix_size: 8 });
    expect(process.env.CUDA_VISIBLE_DEVICES).toBe(before);

    const again = await gpuDemoRunner.run({ seconds: 0, matrixSize: 8 }, fakeContext([3]));
    expect(again).toMatchObject({ gpu_ids: [3], cuda_visible_devices: '3', device_count: 1 });
    expect(again.checksum).toBe(result.checksum);
  });

  it('reports an empty CUDA_VISIBLE_DEVICES when no GPU is assigned', async () => {
    const result = await gpuDemoRunner.run({ seconds: 0, matrixSize: 4 }, fakeContext([]));
    expect(result).toMatchObject({ gpu_ids: [], cuda_visible_devices: '', device_count: 0 });
  });

  it('stops the kernel when the assignment is cancelled', async () => {
    const controller = new AbortController();
    controller.abort(new Error('cancelled'));
    await expect(gpuDemoRunner.run({ seconds: 0, matrixSize: 512 }, fakeContext([0], controller.signal))).rejects.toThrow();
  });
});
