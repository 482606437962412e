import { InvalidParamsError } from './runner';
import { paramsSchemaOf } from './params-schema';
import { echoRunner } from './echo.runner';
import { getTaskSpec, TASK_TYPES } from './registry';
import { sleepRunner } from './sleep.runner';

describe(paramsSchemaOf.name, () => {
  it("states the sleep runner's own rule", () => {
    expect(paramsSchemaOf(sleepRunner)).toEqual({
      type: 'object',
      additionalProperties: false,
      properties: { seconds: { type: 'number', exclusiveMinimum: 0, maximum: 86_400, default: 1 } },
    });
  });

  it('states that echo takes any params', () => {
    expect(paramsSchemaOf(echoRunner)).toEqual({ type: 'object', additionalProperties: true, properties: {} });
  });

  it.each(TASK_TYPES.filter((taskType) => taskType !== 'echo'))('describes every param of %s, and the runner agrees with the bounds', (taskType) => {
    const runner = getTaskSpec(taskType)!;
    const schema = paramsSchemaOf(runner);
    expect(Object.keys(schema.properties).length).toBeGreaterThan(0);
    for (const [key, param] of Object.entries(schema.properties)) {
      if (param.type !== 'number' && param.type !== 'integer') continue;
      const others = Object.fromEntries(Object.entries(schema.properties).filter(([k, p]) => k !== key && p.type === 'string').map(([k]) => [k, 'x']));
      expect(() => runner.validate({ ...others, [key]: param.maximum })).not.toThrow();
      expect(() => runner.validate({ ...others, [key]: param.maximum! + 1 })).toThrow(InvalidParamsError);
    }
  });

  it('leaves no recording behind: a later validate is unaffected', () => {
    paramsSchemaOf(sleepRunner);
    expect(sleepRunner.validate({ seconds: 2 })).toEqual({ seconds: 2 });
  });
});
