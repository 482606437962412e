import type { InferenceSession, Tensor } from 'onnxruntime-node';
import type { ModelHost } from '@mlis/models';
// Not the package index: that would load the native runtime into every process that validates params.
import { ModelLoadError } from '@mlis/models/model-load-error';
import { ParamsChecker, isPlainObject } from './params-checker';
import { InvalidParamsError, type RunContext, type Runner, type TaskSpec } from './runner';

export const TENSOR_TYPES = ['float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool', 'string'] as const;
export type TensorType = (typeof TENSOR_TYPES)[number];
type IntegerType = Exclude<TensorType, 'float32' | 'float64' | 'bool' | 'string'>;

/** What each integer element type allows; 64-bit ones stop at 2^53, where JSON numbers stop being exact. */
const INTEGER_RANGES: Record<IntegerType, [number, number]> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32_768, 32_767],
  uint16: [0, 65_535],
  int32: [-2_147_483_648, 2_147_483_647],
  uint32: [0, 4_294_967_295],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
};

const MAX_INPUTS = 32;
const MAX_RANK = 8;
/** Elements over all input tensors: params travel inline (or as an artifact above the inline threshold). */
const MAX_ELEMENTS = 4_000_000;

export interface TensorJson {
  type: TensorType;
  dims: number[];
  data: (number | boolean | string | null)[];
}

export interface OnnxParams {
  /** artifact://<id> of the .onnx file. */
  model: string;
  inputs: Record<string, TensorJson>;
  /** Outputs to fetch; all of the model's outputs when absent. */
  outputs?: string[];
}

export interface OnnxResult {
  execution_provider: string;
  cache: 'cold' | 'warm';
  /** sha256 of the model file that ran. */
  model_sha256: string;
  outputs: Record<string, TensorJson>;
}

function checkElement(type: TensorType, value: unknown): string | undefined {
  if (type === 'bool') return typeof value === 'boolean' || value === 0 || value === 1 ? undefined : 'must be true, false, 0 or 1';
  if (type === 'string') return typeof value === 'string' ? undefined : 'must be a string';
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'must be a finite number';
  if (type === 'float32' || type === 'float64') return undefined;
  const [min, max] = INTEGER_RANGES[type];
  return Number.isInteger(value) && value >= min && value <= max ? undefined : `must be an integer from ${min} to ${max}`;
}

function checkTensor(check: ParamsChecker, field: string, value: unknown): TensorJson | undefined {
  if (!isPlainObject(value)) {
    check.problem(field, 'must be an object {type, dims, data}');
    return undefined;
  }
  let ok = true;
  const fail = (path: string, problem: string): void => {
    check.problem(`${field}${path}`, problem);
    ok = false;
  };
  for (const key of Object.keys(value)) if (!['type', 'dims', 'data'].includes(key)) fail(`.${key}`, 'unknown field');
  const { type, dims, data } = value;
  if (typeof type !== 'string' || !(TENSOR_TYPES as readonly string[]).includes(type)) fail('.type', `must be one of ${TENSOR_TYPES.join(', ')}`);
  if (!Array.isArray(dims) || dims.length > MAX_RANK || dims.some((d: unknown) => typeof d !== 'number' || !Number.isInteger(d) || d < 0)) {
    fail('.dims', `must be an array of at most ${MAX_RANK} non-negative integers`);
  }
  if (!Array.isArray(data)) fail('.data', 'must be an array');
  if (!ok) return undefined;
  const shape = dims as number[];
  const elements = shape.reduce((product, d) => product * d, 1);
  const items = data as unknown[];
  if (items.length !== elements) {
    fail('.data', `has ${items.length} elements but dims [${shape.join(', ')}] need ${elements}`);
    return undefined;
  }
  // The first bad element says enough; thousands of identical problems say nothing more.
  const bad = items.findIndex((item) => checkElement(type as TensorType, item) !== undefined);
  if (bad >= 0) {
    fail(`.data[${bad}]`, `${checkElement(type as TensorType, items[bad])} (type ${type as string})`);
    return undefined;
  }
  return { type: type as TensorType, dims: shape, data: items as TensorJson['data'] };
}

/** `onnx` params: pure, so the API checks submissions with it without loading any model. */
export const onnxTask: TaskSpec<OnnxParams> = {
  taskType: 'onnx',
  description: 'Runs a user ONNX model (params.model: artifact://<id>) on named input tensors and returns its output tensors.',

  validate(params: unknown): OnnxParams {
    const check = new ParamsChecker('onnx', params, ['model', 'inputs', 'outputs']);
    const model = check.artifactRef('model');
    if (!check.has('model')) check.problem('model', 'is required: the artifact://<id> of an uploaded .onnx file');
    const raw = check.raw('inputs');
    const inputs: Record<string, TensorJson> = {};
    if (!isPlainObject(raw) || Object.keys(raw).length === 0 || Object.keys(raw).length > MAX_INPUTS) {
      check.problem('inputs', `is required: an object of 1 to ${MAX_INPUTS} named tensors {type, dims, data}`);
    } else {
      let elements = 0;
      for (const [name, value] of Object.entries(raw)) {
        const tensor = checkTensor(check, `inputs.${name}`, value);
        if (tensor) {
          inputs[name] = tensor;
          elements += tensor.data.length;
        }
      }
      if (elements > MAX_ELEMENTS) check.problem('inputs', `hold ${elements} elements; at most ${MAX_ELEMENTS}`);
    }
    const outputs = check.stringArray('outputs', { minLength: 1, maxLength: 256, minItems: 1, maxItems: 64 });
    if (outputs && new Set(outputs).size !== outputs.length) check.problem('outputs', 'names an output twice');
    return check.result({ model: model ?? '', inputs, ...(outputs ? { outputs } : {}) });
  },
};

function toTensor(ort: typeof import('onnxruntime-node'), { type, dims, data }: TensorJson): Tensor {
  switch (type) {
    case 'int64':
      return new ort.Tensor('int64', BigInt64Array.from(data as number[], BigInt), dims);
    case 'uint64':
      return new ort.Tensor('uint64', BigUint64Array.from(data as number[], BigInt), dims);
    case 'bool':
      return new ort.Tensor('bool', Uint8Array.from(data as (number | boolean)[], Number), dims);
    case 'string':
      return new ort.Tensor('string', data as string[], dims);
    case 'float32':
    case 'float64':
    case 'int8':
    case 'uint8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32':
      return new ort.Tensor(type, data as number[], dims);
  }
}

/** 64-bit integers beyond 2^53 come back as decimal strings; NaN and infinities as null (JSON has neither). */
function fromTensor(tensor: Tensor): TensorJson {
  const data = Array.from(tensor.data as ArrayLike<number | bigint | string | boolean>, (x) => {
    if (typeof x === 'bigint') return Number.isSafeInteger(Number(x)) ? Number(x) : x.toString();
    if (typeof x === 'number') return Number.isFinite(x) ? x : null;
    return x;
  });
  return { type: (tensor.type === 'bool' ? 'bool' : tensor.type) as TensorType, dims: [...tensor.dims], data: tensor.type === 'bool' ? data.map(Boolean) : data };
}

function invalid(problems: { field: string; problem: string }[]): InvalidParamsError {
  return new InvalidParamsError(`invalid params for onnx: ${problems.map((p) => `${p.field} ${p.problem}`).join('; ')}`, problems);
}

/** What the model itself takes: names, element types and ranks (fixed dims too) of the given inputs. */
function checkAgainstModel(session: InferenceSession, { inputs, outputs }: OnnxParams): void {
  const problems: { field: string; problem: string }[] = [];
  const takes = session.inputNames;
  for (const name of takes) if (!(name in inputs)) problems.push({ field: 'params.inputs', problem: `misses the model's input "${name}" (it takes ${takes.join(', ')})` });
  for (const [name, tensor] of Object.entries(inputs)) {
    const meta = session.inputMetadata.find((m) => m.name === name);
    if (!meta) {
      problems.push({ field: `params.inputs.${name}`, problem: `the model has no input "${name}" (it takes ${takes.join(', ')})` });
    } else if (meta.isTensor) {
      if (meta.type !== tensor.type) problems.push({ field: `params.inputs.${name}.type`, problem: `the model takes ${meta.type}` });
      const fits = meta.shape.length === tensor.dims.length && meta.shape.every((d, i) => typeof d !== 'number' || d < 0 || d === tensor.dims[i]);
      if (!fits) problems.push({ field: `params.inputs.${name}.dims`, problem: `the model takes shape [${meta.shape.join(', ')}]` });
    }
  }
  (outputs ?? []).forEach((name, index) => {
    if (!session.outputNames.includes(name)) {
      problems.push({ field: `params.outputs[${index}]`, problem: `the model has no output "${name}" (it has ${session.outputNames.join(', ')})` });
    }
  });
  if (problems.length > 0) throw invalid(problems);
}

/** `onnx` on a node: the model file comes from the job's artifact, its session from the node's warm pool. */
export function createOnnxRunner(models: ModelHost): Runner<OnnxParams, OnnxResult> {
  return {
    ...onnxTask,
    async run(params: OnnxParams, context: RunContext): Promise<OnnxResult> {
      const artifact = await context.artifacts.open(params.model, context.signal);
      context.heartbeat({ phase: 'loading model' });
      // Loaded lazily: only nodes that run models pay for the native runtime.
      const ort = await import('onnxruntime-node');
      const ran = await models
        .withModelFile(artifact, async (session) => {
          checkAgainstModel(session, params);
          if (context.signal.aborted) throw context.signal.reason;
          const feeds = Object.fromEntries(Object.entries(params.inputs).map(([name, tensor]) => [name, toTensor(ort, tensor)]));
          const fetched = params.outputs ? await session.run(feeds, params.outputs) : await session.run(feeds);
          return Object.fromEntries(Object.entries(fetched).map(([name, tensor]) => [name, fromTensor(tensor)]));
        })
        .catch((error: unknown) => {
          if (error instanceof InvalidParamsError || context.signal.aborted) throw error;
          if (error instanceof ModelLoadError) {
            throw invalid([{ field: 'params.model', problem: `is not an ONNX model onnxruntime can load (${error.message})` }]);
          }
          throw error;
        });
      return { execution_provider: ran.executionProvider, cache: ran.cache, model_sha256: artifact.sha256, outputs: ran.value };
    },
  };
}
