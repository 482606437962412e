import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { artifactBytes, countArtifactBytes } from './mlis-metrics';

async function counted(direction: 'in' | 'out'): Promise<number> {
  return (await artifactBytes.get()).values.find((v) => v.labels.direction === direction)?.value ?? 0;
}

describe(countArtifactBytes.name, () => {
  it('passes the bytes through unchanged and counts them by direction', async () => {
    const before = await counted('out');
    const through = Readable.from([Buffer.from('abc'), Buffer.from('defgh')]).pipe(countArtifactBytes('out'));
    expect(await text(through)).toBe('abcdefgh');
    expect((await counted('out')) - before).toBe(8);
  });
});
