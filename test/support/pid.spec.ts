import { parsePid } from './pid';

describe(parsePid.name, () => {
  it('reads a process id', () => {
    expect(parsePid('4242\n')).toBe(4242);
  });

  it.each([[''], ['\n'], ['0'], ['1'], ['-1'], ['12a'], ['4.2']])('holds none in %j: never a pid that would signal a process group or init', (text) => {
    expect(parsePid(text)).toBeUndefined();
  });
});
