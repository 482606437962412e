import { artifactRef, findArtifactRefs, parseArtifactRef } from './artifact-refs';
import { PAYLOAD_ENVELOPE_BYTES, travelsAsArtifact } from './payloads';

const ID = '0b6a4c1e-3f1d-4c55-9d2e-7a1b2c3d4e5f';

describe(findArtifactRefs.name, () => {
  it('finds references at any depth with the path of each, and prefixed strings that are malformed', () => {
    const params = {
      input: `artifact://${ID}`,
      batch: [{ file: `artifact://${ID.toUpperCase()}` }, 'plain text'],
      'odd key': 'artifact://nope',
      count: 3,
      nothing: null,
    };
    expect(findArtifactRefs(params)).toEqual([
      { path: 'params.input', id: ID, ref: `artifact://${ID}` },
      { path: 'params.batch[0].file', id: ID, ref: `artifact://${ID.toUpperCase()}` },
      { path: 'params["odd key"]', id: null, ref: 'artifact://nope' },
    ]);
  });

  it('parses only the exact form and builds it back', () => {
    expect(parseArtifactRef(artifactRef(ID))).toBe(ID);
    expect(parseArtifactRef(`artifact://${ID}/x`)).toBeNull();
    expect(parseArtifactRef(`s3://${ID}`)).toBeNull();
    expect(findArtifactRefs({ text: 'see artifact://x in the docs' })).toEqual([]);
  });
});

describe(travelsAsArtifact.name, () => {
  it('keeps a value inline only while it and its envelope fit the payload limit', () => {
    expect(travelsAsArtifact(65_536 - PAYLOAD_ENVELOPE_BYTES, 65_536)).toBe(false);
    expect(travelsAsArtifact(65_536 - PAYLOAD_ENVELOPE_BYTES + 1, 65_536)).toBe(true);
  });
});
