import { describe, expect, it } from 'vitest';
import { describeParam, paramsFromForm, type ParamsSchema } from './params-form';

const gpuDemo: Pick<ParamsSchema, 'properties'> = {
  properties: {
    seconds: { type: 'number', minimum: 0, maximum: 86400, default: 0.5 },
    matrix_size: { type: 'integer', minimum: 1, maximum: 512, default: 64 },
  },
};
const inference: Pick<ParamsSchema, 'properties'> = {
  properties: {
    text: { type: 'string', minLength: 1, maxLength: 10 },
    inputs: { type: 'array', minItems: 1, maxItems: 2, items: { type: 'string' } },
  },
};

describe(paramsFromForm.name, () => {
  it('parses numbers and leaves empty fields to the runner default', () => {
    expect(paramsFromForm(gpuDemo, { seconds: '2.5', matrix_size: '' })).toEqual({ params: { seconds: 2.5 }, problems: {} });
  });

  it('reports the bounds the schema states, per field', () => {
    expect(paramsFromForm(gpuDemo, { seconds: '-1', matrix_size: '1.5' }).problems).toEqual({ seconds: 'must be >= 0', matrix_size: 'must be an integer' });
    expect(paramsFromForm(gpuDemo, { seconds: 'soon', matrix_size: '513' }).problems).toEqual({ seconds: 'must be a number', matrix_size: 'must be <= 512' });
    expect(paramsFromForm({ properties: { seconds: { type: 'number', exclusiveMinimum: 0 } } }, { seconds: '0' }).problems).toEqual({ seconds: 'must be > 0' });
  });

  it('takes arrays one item per line and strings as typed', () => {
    expect(paramsFromForm(inference, { inputs: 'good\n\n  bad  \n' })).toEqual({ params: { inputs: ['good', 'bad'] }, problems: {} });
    expect(paramsFromForm(inference, { inputs: 'a\nb\nc', text: 'x'.repeat(11) }).problems).toEqual({ text: 'at most 10 characters', inputs: 'at most 2 items' });
  });

  it('parses untyped fields as JSON and checks string patterns', () => {
    const onnx: Pick<ParamsSchema, 'properties'> = { properties: { model: { type: 'string', pattern: '^artifact://[0-9a-f-]{36}$' }, inputs: {} } };
    const model = 'artifact://2d7e5b9a-6b65-4d2a-9c77-8c3f4b8bb023';
    expect(paramsFromForm(onnx, { model, inputs: '{"X": {"type": "float32", "dims": [1], "data": [1]}}' })).toEqual({
      params: { model, inputs: { X: { type: 'float32', dims: [1], data: [1] } } },
      problems: {},
    });
    expect(paramsFromForm(onnx, { model: 'model.onnx', inputs: '{X:' }).problems).toEqual({ model: 'must match ^artifact://[0-9a-f-]{36}$', inputs: 'must be JSON' });
  });

  it('describes a field by its type, bounds and default', () => {
    expect(describeParam({ type: 'string', enum: ['embed', 'classify'], default: 'classify' })).toBe('string, one of embed, classify, default "classify"');
    expect(describeParam({})).toBe('JSON');
    expect(describeParam(gpuDemo.properties.matrix_size)).toBe('integer, >= 1, <= 512, default 64');
  });
});
