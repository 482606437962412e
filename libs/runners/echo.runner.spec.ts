import { echoRunner } from './echo.runner';
import { InvalidParamsError, type LocalArtifact, type RunContext } from './runner';

function fakeContext(files: Record<string, LocalArtifact>, opened: string[]): RunContext {
  return {
    jobId: 'job-1',
    attempt: 1,
    gpuIds: [],
    heartbeat: () => undefined,
    signal: new AbortController().signal,
    sleep: async () => undefined,
    artifacts: {
      open: async (ref) => {
        opened.push(ref);
        const found = files[ref];
        if (!found) throw new Error(`${ref}: HTTP 404 artifact_not_found`);
        return found;
      },
    },
  };
}

describe('echoRunner', () => {
  it('accepts any params object, and nothing else', () => {
    expect(echoRunner.validate({ a: [1, { b: 'c' }] })).toEqual({ a: [1, { b: 'c' }] });
    expect(echoRunner.validate(undefined)).toEqual({});
    expect(() => echoRunner.validate([1])).toThrow(InvalidParamsError);
    expect(() => echoRunner.validate('text')).toThrow(InvalidParamsError);
  });

  it('returns its params and reads each referenced artifact once, reporting what the node got', async () => {
    const ref = 'artifact://0b6a4c1e-3f1d-4c55-9d2e-7a1b2c3d4e5f';
    const local: LocalArtifact = { id: ref.slice(11), path: '/cache/abc', sha256: 'a'.repeat(64), sizeBytes: 12, contentType: 'text/plain' };
    const opened: string[] = [];
    const params = { input: ref, again: [ref], note: 'artifact-free text' };

    const result = await echoRunner.run(params, fakeContext({ [ref]: local }, opened));

    expect(result).toEqual({ params, artifacts: { [ref]: { sha256: 'a'.repeat(64), size_bytes: 12, content_type: 'text/plain' } } });
    expect(opened).toEqual([ref]);
  });

  it('fails when the node cannot read a referenced artifact', async () => {
    const ref = 'artifact://0b6a4c1e-3f1d-4c55-9d2e-7a1b2c3d4e5f';
    await expect(echoRunner.run({ input: ref }, fakeContext({}, []))).rejects.toThrow(/artifact_not_found/);
  });
});
