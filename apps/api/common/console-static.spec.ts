import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { createTestApp, type TestApp } from '../testing/test-app';

describe('the console at /console', () => {
  let t: TestApp;

  afterEach(async () => {
    await t.app.close();
  });

  it('serves the build, and index.html for deep links, but 404s a missing asset', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlis-console-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>MLIS console</title>');
    writeFileSync(join(dir, 'assets', 'app-abc123.js'), 'console.log(1)');
    t = await createTestApp({ MLIS_CONSOLE_DIR: dir });
    const http = request(t.app.getHttpServer());

    for (const path of ['/console', '/console/', '/console/jobs/9b6e2f9e-0d8f-4a43-9f55-2c1f3bfbf3a1', '/console/workers?x=1']) {
      const page = await http.get(path).expect(200);
      expect([path, page.text]).toEqual([path, expect.stringContaining('MLIS console')]);
      expect(page.headers['cache-control']).toBe('no-cache');
    }
    const asset = await http.get('/console/assets/app-abc123.js').expect(200);
    expect(asset.headers['cache-control']).toContain('immutable');
    const missing = await http.get('/console/assets/gone.js').expect(404);
    expect(missing.body.error.code).toBe('not_found');
    // The API's own routes are untouched.
    await http.get('/health/live').expect(200);
  });

  it('is an ordinary 404 without a build', async () => {
    t = await createTestApp({ MLIS_CONSOLE_DIR: mkdtempSync(join(tmpdir(), 'mlis-console-empty-')) });
    const response = await request(t.app.getHttpServer()).get('/console/jobs').expect(404);
    expect(response.body.error.code).toBe('not_found');
  });
});
