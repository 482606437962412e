/** @jest-environment ./test/support/onnx-environment.ts */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeArtifacts } from '../../test/support/fake-artifacts';
import { TINY_B, TINY_W, tinyOnnxModel } from '../../test/support/tiny-onnx';
import { loadModelConfig } from '@mlis/config';
import { ModelHost } from '@mlis/models';
import { createOnnxRunner, onnxTask, type OnnxResult } from './onnx.runner';
import { InvalidParamsError, type RunContext } from './runner';

const MODEL = 'artifact://0b5c3f7e-4f43-4b0e-9a55-6a1d2f6f9e01';
const NOT_A_MODEL = 'artifact://1c6d4a8f-5a54-4c1f-8b66-7b2e3a7aaf12';

function problems(params: unknown): { field: string; problem: string }[] {
  try {
    onnxTask.validate(params);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidParamsError);
    return (error as InvalidParamsError).details;
  }
  throw new Error('expected validate to throw');
}

/** X·W + B by hand, for one row of X. */
function affine(row: number[]): number[] {
  return TINY_B.map((b, j) => row.reduce((sum, x, i) => sum + x * TINY_W[i][j], b));
}

describe('onnxRunner', () => {
  // Each test loads a model cold; with the other unit suites on the same two cores that can take over Jest's 5 s.
  jest.setTimeout(30_000);
  let dir: string;
  let models: ModelHost;
  let context: RunContext;
  const runner = () => createOnnxRunner(models);
  const run = (params: unknown): Promise<OnnxResult> => runner().run(onnxTask.validate(params), context);
  const params = (overrides: Record<string, unknown> = {}) => ({
    model: MODEL,
    inputs: {
      X: { type: 'float32', dims: [2, 3], data: [1, 0, 0, 0, 1, -1] },
      K: { type: 'int64', dims: [2], data: [3, 2 ** 52] },
    },
    ...overrides,
  });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mlis-onnx-'));
    writeFileSync(join(dir, 'tiny.onnx'), tinyOnnxModel());
    writeFileSync(join(dir, 'garbage.onnx'), 'this is not a model');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => {
    models = new ModelHost({ ...loadModelConfig(), onnxProviders: ['cpu'] });
    context = {
      jobId: 'job-1',
      attempt: 1,
      gpuIds: [],
      heartbeat: () => undefined,
      signal: new AbortController().signal,
      sleep: async () => undefined,
      artifacts: fakeArtifacts({ [MODEL]: { path: join(dir, 'tiny.onnx') }, [NOT_A_MODEL]: { path: join(dir, 'garbage.onnx') } }),
    };
  });
  afterEach(() => models.close());

  it('runs a model built by the test and returns every output tensor, checked by hand', async () => {
    const result = await run(params());
    expect(result).toMatchObject({ execution_provider: 'cpu', cache: 'cold' });
    expect(result.model_sha256).toMatch(/^[0-9a-f]{64}$/);
    const y = [affine([1, 0, 0]), affine([0, 1, -1])];
    expect(y).toEqual([[1.5, 1], [-1.5, -3]]);
    expect(result.outputs).toEqual({
      Y: { type: 'float32', dims: [2, 2], data: y.flat() },
      Z: { type: 'float32', dims: [2, 2], data: [1.5, 1, 0, 0] },
      // 2^53 is past what a JSON number holds exactly: it comes back as a decimal string.
      K2: { type: 'int64', dims: [2], data: [6, '9007199254740992'] },
    });
  });

  it('fetches only the outputs asked for, and a second run of the same file is warm', async () => {
    await run(params());
    const second = await run(params({ outputs: ['Z'] }));
    expect(second.cache).toBe('warm');
    expect(Object.keys(second.outputs)).toEqual(['Z']);
    expect(models.poolStats().keys).toEqual([`file:${second.model_sha256}`]);
  });

  it('rejects malformed tensors at submission, naming each field', () => {
    expect(problems({})).toEqual([
      { field: 'params.model', problem: 'is required: the artifact://<id> of an uploaded .onnx file' },
      { field: 'params.inputs', problem: 'is required: an object of 1 to 32 named tensors {type, dims, data}' },
    ]);
    expect(problems(params({ model: 'file:///etc/passwd' }))).toEqual([{ field: 'params.model', problem: 'must be an artifact reference, artifact://<uuid>' }]);
    expect(problems(params({ inputs: { X: { type: 'float32', dims: [2, 3], data: [1, 2, 3] } } }))).toEqual([
      { field: 'params.inputs.X.data', problem: 'has 3 elements but dims [2, 3] need 6' },
    ]);
    expect(problems(params({ inputs: { X: { type: 'complex64', dims: [-1], data: 'x', extra: 1 } } }))).toEqual([
      { field: 'params.inputs.X.extra', problem: 'unknown field' },
      { field: 'params.inputs.X.type', problem: 'must be one of float32, float64, int8, uint8, int16, uint16, int32, uint32, int64, uint64, bool, string' },
      { field: 'params.inputs.X.dims', problem: 'must be an array of at most 8 non-negative integers' },
      { field: 'params.inputs.X.data', problem: 'must be an array' },
    ]);
    expect(problems(params({ inputs: { K: { type: 'int64', dims: [2], data: [1, 1.5] } } }))).toEqual([
      { field: 'params.inputs.K.data[1]', problem: `must be an integer from ${Number.MIN_SAFE_INTEGER} to ${Number.MAX_SAFE_INTEGER} (type int64)` },
    ]);
    expect(problems(params({ inputs: { B: { type: 'uint8', dims: [1], data: [256] } }, outputs: ['Y', 'Y'] }))).toEqual([
      { field: 'params.inputs.B.data[0]', problem: 'must be an integer from 0 to 255 (type uint8)' },
      { field: 'params.outputs', problem: 'names an output twice' },
    ]);
    expect(problems(params({ inputs: { X: { type: 'float32', dims: [1], data: [Number.NaN] } } }))[0].problem).toBe('must be a finite number (type float32)');
  });

  it("rejects at run time what does not fit the model's own inputs and outputs, as invalid params", async () => {
    const error = await run(
      params({
        inputs: { X: { type: 'float64', dims: [2, 2], data: [1, 2, 3, 4] }, Q: { type: 'int32', dims: [1], data: [1] } },
        outputs: ['nope'],
      }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidParamsError);
    expect((error as InvalidParamsError).details).toEqual([
      { field: 'params.inputs', problem: `misses the model's input "K" (it takes X, K)` },
      { field: 'params.inputs.X.type', problem: 'the model takes float32' },
      { field: 'params.inputs.X.dims', problem: 'the model takes shape [N, 3]' },
      { field: 'params.inputs.Q', problem: 'the model has no input "Q" (it takes X, K)' },
      { field: 'params.outputs[0]', problem: 'the model has no output "nope" (it has Y, Z, K2)' },
    ]);
  });

  it('says a file that is not an ONNX model is invalid params, and does not cache it', async () => {
    const error = await run(params({ model: NOT_A_MODEL })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidParamsError);
    expect((error as InvalidParamsError).details[0].field).toBe('params.model');
    expect(models.poolStats()).toEqual({ keys: [], bytes: 0 });
  });

  it('runs on cpu, and says so, when cuda is asked for but its provider library is absent', async () => {
    models = new ModelHost({ ...loadModelConfig(), onnxProviders: ['cuda', 'cpu'] });
    const result = await run(params());
    expect(result.execution_provider).toBe('cpu');
    expect(result.outputs.Z.data).toEqual([1.5, 1, 0, 0]);
  });
});
