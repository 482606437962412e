// Jest runs each suite in its own realm, whose typed-array constructors differ from Node's own: onnxruntime-node
// builds its tensors with Node's and checks them with `instanceof` against the suite's, and refuses them. Suites
// that run ONNX models get Node's constructors.
import type { EnvironmentContext, JestEnvironmentConfig } from '@jest/environment';
import { TestEnvironment } from 'jest-environment-node';

const TYPED_ARRAYS = [
  'Float32Array',
  'Float64Array',
  'Int8Array',
  'Uint8Array',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'BigInt64Array',
  'BigUint64Array',
] as const;

export default class OnnxEnvironment extends TestEnvironment {
  constructor(config: JestEnvironmentConfig, context: EnvironmentContext) {
    super(config, context);
    for (const name of TYPED_ARRAYS) this.global[name] = globalThis[name] as never;
  }
}
