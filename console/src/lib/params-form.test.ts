import { describe, expect, it } from 'vitest';
import { describeParam, paramsFromForm, type ParamsSchema } from './params-form';

const gpuDemo: ParamsSchema = {
  properties: {
    seconds: { type: 'number', minimum: 0, maximum: 86400, default: 0.5 },
    matrix_size: { type: 'integer', minimum: 1, maximum: 512, default: 64 },
  },
};
const inference: ParamsSchema = {
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

  it('describes a field by its type, bounds and default', () => {
    expect(describeParam(gpuDemo.properties.matrix_size)).toBe('integer, >= 1, <= 512, default 64');
  });
});
