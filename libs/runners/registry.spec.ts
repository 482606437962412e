import { loadModelConfig } from '@mlis/config';
import { ModelHost } from '@mlis/models';
import { createRunners, getTaskSpec, TASK_TYPES } from './registry';

describe('runner registry', () => {
  it('knows the task types, the same for validation and for running', () => {
    expect([...TASK_TYPES].sort()).toEqual(['echo', 'gpu_demo', 'inference', 'onnx', 'sleep']);
    for (const taskType of TASK_TYPES) expect(getTaskSpec(taskType)?.taskType).toBe(taskType);
    expect(getTaskSpec('nope')).toBeUndefined();
    const runners = createRunners({ models: new ModelHost(loadModelConfig()) });
    expect([...runners.keys()].sort()).toEqual([...TASK_TYPES].sort());
    for (const [taskType, runner] of runners) expect(runner.validate).toBe(getTaskSpec(taskType)?.validate);
  });

  it('validates without loading onnxruntime: the API only checks params', () => {
    jest.isolateModules(() => {
      jest.doMock('onnxruntime-node', () => {
        throw new Error('onnxruntime-node was loaded');
      });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const registry = require('./registry') as typeof import('./registry');
      expect(registry.getTaskSpec('inference')?.validate({ text: 'hi' })).toMatchObject({ mode: 'classify', texts: ['hi'] });
      expect(() => registry.getTaskSpec('onnx')?.validate({})).toThrow(/params.model/);
    });
  });
});
