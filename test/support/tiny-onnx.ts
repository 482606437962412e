import { onnx } from 'onnx-proto';

/** Weights of the tiny model: Y = X·W + B, so each output can be checked by hand. */
export const TINY_W = [
  [1, 2],
  [3, 4],
  [5, 6],
];
export const TINY_B = [0.5, -1];

function valueInfo(name: string, elemType: onnx.TensorProto.DataType, dims: (number | string)[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/**
 * A tiny ONNX model built here, byte by byte with the ONNX protobuf schema: inputs X float32 [N, 3] and
 * K int64 [N]; outputs Y = X·W + B (float32 [N, 2]), Z = Relu(Y) and K2 = K + K (int64 [N]).
 */
export function tinyOnnxModel(): Uint8Array {
  const { FLOAT, INT64 } = onnx.TensorProto.DataType;
  const model: onnx.IModelProto = {
    irVersion: 8,
    producerName: 'mlis-tests',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'tiny',
      node: [
        { opType: 'MatMul', input: ['X', 'W'], output: ['XW'], name: 'matmul' },
        { opType: 'Add', input: ['XW', 'B'], output: ['Y'], name: 'bias' },
        { opType: 'Relu', input: ['Y'], output: ['Z'], name: 'relu' },
        { opType: 'Add', input: ['K', 'K'], output: ['K2'], name: 'double' },
      ],
      initializer: [
        { name: 'W', dataType: FLOAT, dims: [3, 2], floatData: TINY_W.flat() },
        { name: 'B', dataType: FLOAT, dims: [2], floatData: TINY_B },
      ],
      input: [valueInfo('X', FLOAT, ['N', 3]), valueInfo('K', INT64, ['N'])],
      output: [valueInfo('Y', FLOAT, ['N', 2]), valueInfo('Z', FLOAT, ['N', 2]), valueInfo('K2', INT64, ['N'])],
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}
