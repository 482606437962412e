import { getRunner, RUNNERS, TASK_TYPES } from './registry';

describe('runner registry', () => {
  it('knows the seed task types and echo, and nothing else', () => {
    expect([...TASK_TYPES].sort()).toEqual(['echo', 'gpu_demo', 'inference', 'sleep']);
    for (const taskType of TASK_TYPES) expect(getRunner(taskType)?.taskType).toBe(taskType);
    expect(getRunner('nope')).toBeUndefined();
    expect(RUNNERS.size).toBe(4);
  });
});
