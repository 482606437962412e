import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import request from 'supertest';
import { buildOpenApiDocument } from './configure-app';
import { createTestApp, type TestApp } from './testing/test-app';

const CONSOLE = resolve(__dirname, '../../console');
// One generated contract, shared: the console and the CLI both import these types.
const CONTRACT = resolve(__dirname, '../../libs/api-client');
const DOCUMENT = join(CONTRACT, 'openapi.json');
const SCHEMA = join(CONTRACT, 'schema.d.ts');
// `npm run generate:api-client` sets this to rewrite both files instead of comparing.
const UPDATE = process.env.MLIS_UPDATE_API_CLIENT === '1';

function generateTypes(documentJson: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mlis-openapi-'));
  const input = join(dir, 'openapi.json');
  const output = join(dir, 'schema.d.ts');
  writeFileSync(input, documentJson);
  execFileSync(join(CONSOLE, 'node_modules/.bin/openapi-typescript'), [input, '-o', output, '--default-non-nullable', 'false'], { stdio: 'pipe' });
  return readFileSync(output, 'utf8');
}

describe('the typed API client (console and CLI)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });

  afterAll(async () => {
    await t.app.close();
  });

  it('is generated from exactly the document the API serves at /docs-json', async () => {
    const served = (await request(t.app.getHttpServer()).get('/docs-json').expect(200)).body;
    const built = buildOpenApiDocument(t.app);
    expect(built).toEqual(served);
    const documentJson = `${JSON.stringify(served, null, 2)}\n`;
    const types = generateTypes(documentJson);
    if (UPDATE) {
      writeFileSync(DOCUMENT, documentJson);
      writeFileSync(SCHEMA, types);
    }
    // A failure here means an API change without `npm run generate:api-client`: the console's and the CLI's types drifted.
    expect(readFileSync(DOCUMENT, 'utf8')).toBe(documentJson);
    expect(readFileSync(SCHEMA, 'utf8')).toBe(types);
  }, 60_000);
});
