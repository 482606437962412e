import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import {
  buildParams,
  collectParam,
  parseInteger,
  parseJobState,
  parseNonNegativeInteger,
  parseParamAssignment,
  parsePositiveSeconds,
  parseSeconds,
  readParamsFile,
  UsageError,
} from './arguments';

describe('parseParamAssignment', () => {
  it('parses values as JSON when they parse', () => {
    expect(parseParamAssignment('seconds=2')).toEqual({ key: 'seconds', value: 2 });
    expect(parseParamAssignment('ratio=0.5')).toEqual({ key: 'ratio', value: 0.5 });
    expect(parseParamAssignment('flag=true')).toEqual({ key: 'flag', value: true });
    expect(parseParamAssignment('nothing=null')).toEqual({ key: 'nothing', value: null });
    expect(parseParamAssignment('ids=[1,2]')).toEqual({ key: 'ids', value: [1, 2] });
    expect(parseParamAssignment('opts={"a":{"b":1}}')).toEqual({ key: 'opts', value: { a: { b: 1 } } });
    expect(parseParamAssignment('quoted="5"')).toEqual({ key: 'quoted', value: '5' });
  });

  it('keeps the raw string when the value is not JSON', () => {
    expect(parseParamAssignment('model=resnet18')).toEqual({ key: 'model', value: 'resnet18' });
    expect(parseParamAssignment('text=hello world')).toEqual({ key: 'text', value: 'hello world' });
    expect(parseParamAssignment('empty=')).toEqual({ key: 'empty', value: '' });
  });

  it('splits on the first "=" only', () => {
    expect(parseParamAssignment('expr=a=b')).toEqual({ key: 'expr', value: 'a=b' });
  });

  it('rejects a missing key or "="', () => {
    expect(() => parseParamAssignment('seconds')).toThrow(InvalidArgumentError);
    expect(() => parseParamAssignment('=5')).toThrow(InvalidArgumentError);
  });

  it('collects repeated --param options in order', () => {
    const collected = collectParam('b=2', collectParam('a=1'));
    expect(collected).toEqual([
      { key: 'a', value: 1 },
      { key: 'b', value: 2 },
    ]);
  });
});

describe('buildParams', () => {
  it('lets --param override the file and --seconds override both', () => {
    const params = buildParams(
      { seconds: 9, model: 'a', keep: true },
      [
        { key: 'model', value: 'b' },
        { key: 'seconds', value: 4 },
      ],
      1.5,
    );
    expect(params).toEqual({ seconds: 1.5, model: 'b', keep: true });
  });

  it('keeps "__proto__" a plain field instead of changing the prototype', () => {
    const params = buildParams(undefined, [parseParamAssignment('__proto__={"polluted":1}')], undefined);
    expect(Object.getPrototypeOf(params)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(params))).toEqual(JSON.parse('{"__proto__":{"polluted":1}}'));
  });
});

describe('number and state options', () => {
  it('accepts integers only where integers are required', () => {
    expect(parseInteger('-3')).toBe(-3);
    expect(parseNonNegativeInteger('0')).toBe(0);
    expect(() => parseInteger('1.5')).toThrow(InvalidArgumentError);
    expect(() => parseInteger('two')).toThrow(InvalidArgumentError);
    expect(() => parseNonNegativeInteger('-1')).toThrow(InvalidArgumentError);
  });

  it('accepts fractional seconds but not negative or empty ones', () => {
    expect(parseSeconds('0.25')).toBe(0.25);
    expect(() => parseSeconds('-1')).toThrow(InvalidArgumentError);
    expect(() => parseSeconds('')).toThrow(InvalidArgumentError);
    expect(() => parseSeconds('soon')).toThrow(InvalidArgumentError);
    expect(parsePositiveSeconds('0.01')).toBe(0.01);
    expect(() => parsePositiveSeconds('0')).toThrow('must be a number of seconds > 0');
    expect(() => parsePositiveSeconds('-1')).toThrow(InvalidArgumentError);
  });

  it('normalises job states to upper case and rejects unknown ones', () => {
    expect(parseJobState('running')).toBe('RUNNING');
    expect(() => parseJobState('DONE')).toThrow(InvalidArgumentError);
  });
});

describe('readParamsFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlis-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a JSON object', () => {
    const path = join(dir, 'ok.json');
    writeFileSync(path, '{"seconds": 2, "model": "m"}');
    expect(readParamsFile(path)).toEqual({ seconds: 2, model: 'm' });
  });

  it('rejects missing files, bad JSON and non-objects as usage errors', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{oops');
    const list = join(dir, 'list.json');
    writeFileSync(list, '[1,2]');
    expect(() => readParamsFile(join(dir, 'missing.json'))).toThrow(UsageError);
    expect(() => readParamsFile(bad)).toThrow(/not valid JSON/);
    expect(() => readParamsFile(list)).toThrow(/must hold a JSON object/);
  });
});
