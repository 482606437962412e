/// <reference lib="dom" />
// Functions passed to page.evaluate run in the browser.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { api, killNode, restartNode, submit, TERMINAL, tokenFor, waitForJob, withDb } from './support/api';
import { auditPage, consoleUrl, launchChromium, signInWithToken } from './support/browser';
import { ROOT } from './support/stack-env';

/**
 * The operator console in a real headless Chromium (Debian's), against the real stack: the console
 * build the API serves at /console, real Postgres, Temporal and worker processes.
 */
describe('the console at /console, in Chromium', () => {
  jest.setTimeout(180_000);
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const measured: Record<string, number> = {};
  const axe: Record<string, unknown> = {};

  beforeAll(async () => {
    browser = await launchChromium();
  });

  beforeEach(async () => {
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
  });

  afterEach(async () => {
    await context.close();
  });

  afterAll(async () => {
    await browser.close();
    mkdirSync(join(ROOT, '.mlis'), { recursive: true });
    writeFileSync(join(ROOT, '.mlis/console-measurements.json'), JSON.stringify(measured, null, 2));
    console.log(`console measurements: ${JSON.stringify(measured)}`);
  });

  const badge = () => page.locator('h1 .badge');
  const waitForBadge = (text: string, timeout = 90_000) =>
    page.waitForFunction((want) => document.querySelector('h1 .badge')?.textContent === want, text, { timeout });

  it('dev sign-in: the header shows subject, tenant and scopes; sign-in and overview pass axe in both themes', async () => {
    await page.goto(consoleUrl('/'));
    expect(await auditPage(page, 'sign-in')).toEqual({ light: [], dark: [] });
    await page.getByLabel('Tenant', { exact: true }).fill('default');
    await page.getByLabel('User', { exact: true }).fill('e2e-operator');
    await page.getByRole('button', { name: /^Sign in as/ }).click();
    const identity = page.getByTestId('identity');
    await identity.waitFor();
    expect(await identity.textContent()).toContain('e2e-operator @ default');
    expect(await identity.textContent()).toContain('jobs:cancel');
    await page.getByRole('heading', { name: 'Needs attention' }).waitFor();
    // Keyboard: the first Tab reaches the skip link, which moves focus to the page's content.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    expect(await auditPage(page, 'overview')).toEqual({ light: [], dark: [] });
    // The token lives in sessionStorage, not in localStorage or the URL.
    expect(await page.evaluate(() => [sessionStorage.getItem('mlis.token') !== null, JSON.stringify(localStorage).includes('eyJ')])).toEqual([true, false]);
  });

  it('submits each example job from the Submit page and watches it reach SUCCEEDED without a reload', async () => {
    await signInWithToken(page, tokenFor({ sub: 'e2e-submitter' }));
    for (const name of ['job.sleep.json', 'job.gpu_demo.json', 'job.inference.json']) {
      const example = JSON.parse(readFileSync(join(ROOT, 'examples', name), 'utf8'));
      await page.getByRole('link', { name: 'Submit', exact: true }).click();
      await page.getByLabel('Task type').selectOption(example.task_type);
      for (const [key, value] of Object.entries(example.params as Record<string, unknown>)) {
        await page.locator(`[name="param-${key}"]`).fill(Array.isArray(value) ? value.join('\n') : String(value));
      }
      for (const key of ['cpu', 'mem_mb', 'gpu']) await page.locator(`[name="${key}"]`).fill(String(example[key]));
      if (name === 'job.sleep.json') expect(await auditPage(page, 'submit')).toEqual({ light: [], dark: [] });
      await page.getByRole('button', { name: `Submit ${example.task_type}` }).click();
      await page.waitForURL(/\/console\/jobs\/[0-9a-f-]{36}$/);
      await page.evaluate(() => ((window as unknown as { e2eMarker: number }).e2eMarker = 1));
      await waitForBadge('SUCCEEDED');
      // Same document all along: the state arrived live.
      expect(await page.evaluate(() => (window as unknown as { e2eMarker?: number }).e2eMarker)).toBe(1);
      expect(await page.locator('pre[aria-label="Result"]').textContent()).toMatch(/\S/);
      if (name === 'job.gpu_demo.json') {
        expect(await page.getByTestId('attempt-1').textContent()).toContain('GPU 0');
        expect(await auditPage(page, 'job-detail')).toEqual({ light: [], dark: [] });
      }
    }
  });

  it('uploads a file from the Submit page as an inference job\'s input, and the job reads it', async () => {
    await signInWithToken(page, tokenFor({ sub: 'e2e-uploader' }));
    await page.getByRole('link', { name: 'Submit', exact: true }).click();
    await page.getByLabel('Task type').selectOption('inference');
    await page.getByLabel('or upload a file as input').setInputFiles({
      name: 'reviews.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('a wonderful, delightful film\nthe worst service I have had\nan ordinary tuesday\n'),
    });
    const done = page.getByTestId('upload-input-done');
    await done.waitFor();
    const id = /artifact ([0-9a-f-]{36})\./.exec((await done.textContent()) ?? '')?.[1];
    expect(id).toBeDefined();
    expect(await page.locator('[name="param-input"]').inputValue()).toBe(`artifact://${id}`);
    // The stored artifact is the file as sent, named after it.
    const meta = await api('GET', `/v1/artifacts/${id}/meta`);
    expect(meta.body).toMatchObject({ name: 'reviews.txt', content_type: 'text/plain', size_bytes: 78, created_by: 'e2e-uploader' });
    await done.scrollIntoViewIfNeeded();
    expect(await auditPage(page, 'submit-upload')).toEqual({ light: [], dark: [] });

    await page.getByRole('button', { name: 'Submit inference' }).click();
    await page.waitForURL(/\/console\/jobs\/[0-9a-f-]{36}$/);
    await waitForBadge('SUCCEEDED');
    const result = JSON.parse((await page.locator('pre[aria-label="Result"]').textContent()) ?? '{}');
    expect(result).toMatchObject({ mode: 'classify', texts: 3 });
    expect(result.predictions.map((prediction: { label: string }) => prediction.label)).toEqual(['positive', 'negative', 'neutral']);
  });

  it('Artifacts page: uploads a file, downloads it back byte for byte, and deletes it once confirmed', async () => {
    const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251));
    await signInWithToken(page, tokenFor({ sub: 'e2e-artifacts' }));
    await page.getByRole('link', { name: 'Artifacts', exact: true }).click();
    await page.getByLabel('Upload a file').setInputFiles({ name: 'weights.bin', mimeType: 'application/octet-stream', buffer: bytes });
    const done = page.getByTestId('upload-artifact-done');
    await done.waitFor();
    const id = /artifact ([0-9a-f-]{36})\./.exec((await done.textContent()) ?? '')?.[1];
    const row = page.getByTestId(`artifact-${id}`);
    await row.waitFor();
    expect(await row.textContent()).toContain('weights.bin');
    expect(await row.textContent()).toContain('2.9 KiB');
    expect(await row.textContent()).toContain('e2e-artifacts');
    expect(await auditPage(page, 'artifacts')).toEqual({ light: [], dark: [] });

    // The name filter asks the API (?prefix=) and keeps itself in the URL.
    const filterBy = async (prefix: string) => {
      await page.getByRole('textbox', { name: 'Name starts with' }).fill(prefix);
      await page.getByRole('button', { name: 'Filter' }).click();
    };
    await filterBy('weights.');
    await page.waitForURL(/\/artifacts\?prefix=weights\.$/);
    await row.waitFor();
    await filterBy('weights-not');
    await page.getByText('No artifacts whose name starts with “weights-not”.').waitFor();
    await page.getByRole('button', { name: 'Clear' }).click();
    await row.waitFor();

    const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: 'Download weights.bin' }).click()]);
    expect(download.suggestedFilename()).toBe('weights.bin');
    // Saved by the browser from a download link (ADR 0063), not handed over from the page's memory as a blob: URL.
    expect(download.url()).toContain('/v1/downloads?ticket=');
    expect(readFileSync(await download.path()).equals(bytes)).toBe(true);

    await row.getByRole('button', { name: 'Delete weights.bin' }).click();
    expect((await api('GET', `/v1/artifacts/${id}/meta`)).status).toBe(200);
    await row.getByRole('button', { name: 'Delete for good: weights.bin' }).click();
    expect(await page.getByTestId('artifact-outcome').textContent()).toContain('Deleted weights.bin.');
    await row.waitFor({ state: 'detached' });
    expect((await api('GET', `/v1/artifacts/${id}/meta`)).status).toBe(404);
  });

  it('an upload shows how much has gone out, and one cancelled half way keeps nothing', async () => {
    await signInWithToken(page, tokenFor({ sub: 'e2e-upload-progress' }));
    await page.getByRole('link', { name: 'Artifacts', exact: true }).click();
    // Uploads at about 1 MiB/s (Chromium's own throttling, as DevTools sets it), so that progress has steps to show.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 1024 * 1024 });
    const input = page.getByLabel('Upload a file');
    const progress = page.getByRole('progressbar', { name: /^Upload of / });
    const sentBytes = async () => Number(await progress.getAttribute('value'));
    const MiB = 1024 * 1024;

    const whole = `whole-${Date.now()}.bin`;
    await input.setInputFiles({ name: whole, mimeType: 'application/octet-stream', buffer: Buffer.alloc(2 * MiB, 1) });
    await page.getByText(/^[0-9.]+ (KiB|MiB) of 2\.0 MiB \(([1-9]|[1-9][0-9]) %\)$/).waitFor();
    expect(await sentBytes()).toBeGreaterThan(0);
    expect(await sentBytes()).toBeLessThan(2 * MiB);
    expect(await page.getByRole('button', { name: 'Cancel upload' }).isEnabled()).toBe(true);
    const done = page.getByTestId('upload-artifact-done');
    await done.waitFor();
    expect(await done.textContent()).toContain(`Uploaded ${whole} (2.0 MiB)`);
    expect(await progress.count()).toBe(0);

    const cancelled = `cancelled-${Date.now()}.bin`;
    await input.setInputFiles({ name: cancelled, mimeType: 'application/octet-stream', buffer: Buffer.alloc(4 * MiB, 2) });
    await page.waitForFunction(() => Number(document.querySelector('progress')?.getAttribute('value')) > 512 * 1024);
    await page.getByRole('button', { name: 'Cancel upload' }).click();
    expect(await page.getByTestId('upload-artifact-cancelled').textContent()).toBe(`Cancelled the upload of ${cancelled}; nothing was kept.`);

    // The API saw the body break off and kept nothing: the tenant has the whole upload and not the cancelled one.
    const listed = await api('GET', '/v1/artifacts?limit=100', undefined, { authorization: `Bearer ${tokenFor({ sub: 'e2e-upload-progress' })}` });
    const names = listed.body.items.map((artifact: { name: string }) => artifact.name);
    expect(names).toContain(whole);
    expect(names).not.toContain(cancelled);
    expect(await withDb(async (db) => (await db.query(`SELECT count(*)::int AS n FROM artifacts WHERE name = $1`, [cancelled])).rows[0].n)).toBe(0);
  });

  it('measures the delay from a state change to the page (live stream)', async () => {
    await signInWithToken(page, tokenFor({ sub: 'e2e-measure' }));
    const accepted = await submit({ task_type: 'sleep', params: { seconds: 2 }, cpu: 1, mem_mb: 256, gpu: 0 });
    await page.goto(consoleUrl(`/jobs/${accepted.id}`));
    await page.waitForFunction(() => document.querySelector('[data-testid="live-status"]')?.textContent?.startsWith('Live'), null, { timeout: 20_000 });
    await page.evaluate(() => {
      const w = window as unknown as { shownAt?: number };
      new MutationObserver(() => {
        if (w.shownAt === undefined && document.querySelector('h1 .badge')?.textContent === 'SUCCEEDED') w.shownAt = Date.now();
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await waitForBadge('SUCCEEDED');
    const shownAt = await page.evaluate(() => (window as unknown as { shownAt: number }).shownAt);
    const job = await waitForJob(accepted.id, (j) => j.state === 'SUCCEEDED');
    measured.state_change_to_page_ms = shownAt - Date.parse(job.updated_at);
    expect(measured.state_change_to_page_ms).toBeGreaterThanOrEqual(0);
    expect(measured.state_change_to_page_ms).toBeLessThan(5_000);
  });

  it('kill-a-worker: the timeline shows two attempts, the first LOST', async () => {
    await signInWithToken(page, tokenFor({ sub: 'e2e-chaos' }));
    const accepted = await submit({ task_type: 'sleep', params: { seconds: 8 }, cpu: 1, mem_mb: 256, gpu: 0 });
    await page.goto(consoleUrl(`/jobs/${accepted.id}`));
    await waitForBadge('RUNNING');
    const running = await waitForJob(accepted.id, (j) => j.latest_assignment?.state === 'RUNNING');
    const victim = running.latest_assignment.node_id as string;
    killNode(victim);
    try {
      await page.getByTestId('attempt-2').waitFor({ timeout: 60_000 });
      await waitForBadge('SUCCEEDED');
      expect(await page.getByTestId('attempt-1').textContent()).toMatch(new RegExp(`Attempt 1 · ${victim} · LOST`));
      expect(await page.getByTestId('attempt-2').textContent()).toContain('SUCCEEDED');
    } finally {
      await restartNode(victim);
    }
  });

  it('a result too large to show inline shows on the open Artifacts page as the job ends, and is downloaded from the job page', async () => {
    await signInWithToken(page, tokenFor({ sub: 'e2e-artifact' }));
    await page.getByRole('link', { name: 'Artifacts', exact: true }).click();
    await page.getByRole('heading', { name: 'Artifacts' }).waitFor();
    // 100 vectors of 384 numbers: far above the 64 KiB inline threshold, so the node stores it as an artifact.
    const texts = Array.from({ length: 100 }, (_, i) => `console download check number ${i}`);
    const accepted = await submit({ task_type: 'inference', params: { mode: 'embed', texts } });
    const done = await waitForJob(accepted.id, (j) => TERMINAL.includes(j.state));
    expect(done.state).toBe('SUCCEEDED');
    expect(done.result_artifact).toEqual(expect.any(String));
    // No reload: the page read its first page again on the job's change.
    const stored = page.getByTestId(`artifact-${done.result_artifact}`);
    await stored.waitFor();
    expect(await stored.textContent()).toContain(`result-${accepted.id}.json`);
    await page.goto(consoleUrl(`/jobs/${accepted.id}`));
    expect(await page.getByTestId('result-artifact').textContent()).toContain(done.result_artifact);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download result' }).click()]);
    expect(download.suggestedFilename()).toBe(`result-${accepted.id}.json`);
    expect(download.url()).toContain('/v1/downloads?ticket=');
    const result = JSON.parse(readFileSync(await download.path(), 'utf8'));
    expect(result).toMatchObject({ mode: 'embed', texts: 100, embedding_dim: 384 });
    expect(result.embeddings).toHaveLength(100);
  });

  it('params too large to show inline are downloaded from the job page, and a token without artifacts:read is told why it cannot', async () => {
    // Above the 64 KiB inline threshold: the API stores the params as an artifact.
    const params = { rows: Array.from({ length: 1_000 }, (_, i) => ({ i, label: `row ${i} `.repeat(8) })) };
    const accepted = await submit({ task_type: 'echo', params });
    expect(accepted.params_artifact).toEqual(expect.any(String));
    await signInWithToken(page, tokenFor({ sub: 'e2e-params' }));
    await page.goto(consoleUrl(`/jobs/${accepted.id}`));
    expect(await page.getByTestId('params-artifact').textContent()).toContain(accepted.params_artifact);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download params' }).click()]);
    expect(download.suggestedFilename()).toBe(`params-${accepted.id}.json`);
    expect(download.url()).toContain('/v1/downloads?ticket=');
    expect(JSON.parse(readFileSync(await download.path(), 'utf8'))).toEqual(params);

    await page.evaluate(() => sessionStorage.clear());
    await signInWithToken(page, tokenFor({ sub: 'e2e-params-reader', scopes: ['jobs:read'] }));
    await page.goto(consoleUrl(`/jobs/${accepted.id}`));
    expect(await page.getByTestId('params-artifact').textContent()).toContain('Your token lacks the artifacts:read scope: downloading them needs artifacts:read.');
    expect(await page.getByRole('button', { name: 'Download params' }).count()).toBe(0);
  });

  it('a waiting GPU job shows its reason and queue position, then starts when a GPU frees', async () => {
    await signInWithToken(page, tokenFor({ sub: 'e2e-gpu' }));
    const holders = await Promise.all([1, 2, 3, 4].map(() => submit({ task_type: 'gpu_demo', params: { seconds: 15 }, cpu: 1, mem_mb: 256, gpu: 1 })));
    await Promise.all(holders.map((h) => waitForJob(h.id, (j) => j.latest_assignment?.state === 'RUNNING')));
    const waiting = await submit({ task_type: 'gpu_demo', params: { seconds: 0.5 }, cpu: 1, mem_mb: 256, gpu: 1 });
    await page.goto(consoleUrl(`/jobs/${waiting.id}`));
    const why = page.getByTestId('why-pending');
    await page.waitForFunction(() => /^\d+$/.test(document.querySelector('[data-testid="queue-position"]')?.textContent ?? ''), null, { timeout: 45_000 });
    expect(await why.textContent()).toContain('insufficient_capacity');
    expect(Number(await page.getByTestId('queue-position').textContent())).toBeGreaterThanOrEqual(1);
    // The overview, from the same ledger: every GPU used, and the GPU group flagged as admitting nothing.
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.waitForFunction(() => (document.querySelector('[data-testid="attention"]')?.textContent ?? '').includes('Group admits nothing gpu'), null, { timeout: 15_000 });
    expect(await page.locator('.stat', { hasText: 'GPUs used' }).textContent()).toContain('4/4');
    await page.getByRole('link', { name: 'Queue' }).click();
    // It asked for a GPU but no group: it waits in the "any group" lane.
    const gpuQueue = page.getByTestId('queue-any');
    await page.waitForFunction((id) => document.querySelector('[data-testid="queue-any"]')?.textContent?.includes(id), waiting.id.slice(0, 8), { timeout: 15_000 });
    expect(await gpuQueue.textContent()).toContain('insufficient_capacity');
    expect(await page.getByTestId('tenant-shares').textContent()).toContain('default');
    expect(await auditPage(page, 'queue')).toEqual({ light: [], dark: [] });
    await page.getByRole('link', { name: 'Workers' }).click();
    // Every GPU of the stack is in use, each cell linked to the job using it.
    await page.waitForFunction(() => document.querySelectorAll('a.gpu-used').length === 4, null, { timeout: 15_000 });
    expect(await page.locator('[data-testid="gpu-cell"]:not(a)').count()).toBe(0);
    expect(await auditPage(page, 'workers')).toEqual({ light: [], dark: [] });
    await page.goto(consoleUrl(`/jobs/${waiting.id}`));
    await waitForBadge('SUCCEEDED', 60_000);
    expect(await badge().textContent()).toBe('SUCCEEDED');
    await Promise.all(holders.map((h) => waitForJob(h.id, (j) => TERMINAL.includes(j.state))));
  });

  it('drains and undrains a node from the Workers page', async () => {
    await signInWithToken(page, tokenFor({ sub: 'e2e-admin' }));
    await page.goto(consoleUrl('/workers'));
    const card = page.getByTestId('node-gpu-2');
    try {
      await card.getByRole('button', { name: 'Drain gpu-2' }).click();
      await card.locator('.badge', { hasText: 'DRAINING' }).waitFor();
      expect((await api('GET', '/v1/workers')).body.items.find((n: { node_id: string }) => n.node_id === 'gpu-2').status).toBe('DRAINING');
      await card.getByRole('button', { name: 'Undrain gpu-2' }).click();
      await card.locator('.badge', { hasText: 'ACTIVE' }).waitFor();
    } finally {
      await api('POST', '/v1/workers/gpu-2/undrain');
    }
  });

  it("a second tenant sees none of the first's jobs", async () => {
    const first = await submit({ task_type: 'sleep', params: { seconds: 0.2 }, cpu: 1, mem_mb: 256, gpu: 0 });
    await signInWithToken(page, tokenFor({ tenant: 'e2e-other', sub: 'stranger' }));
    await page.goto(consoleUrl('/jobs'));
    await page.getByTestId('empty-none').waitFor();
    expect(await page.getByTestId('job-row').count()).toBe(0);
    await page.goto(consoleUrl(`/jobs?id=${first.id}`));
    await page.getByTestId('empty-filtered').waitFor();
    await page.goto(consoleUrl(`/jobs/${first.id}`));
    const notice = page.getByRole('alert');
    await notice.waitFor();
    expect(await notice.textContent()).toContain('Not found (404)');
    expect(await page.content()).not.toContain('e2e-submitter');
  });

  it('a read-only token cannot cancel, and is told why', async () => {
    const job = await submit({ task_type: 'sleep', params: { seconds: 30 }, cpu: 1, mem_mb: 256, gpu: 0 });
    try {
      await signInWithToken(page, tokenFor({ sub: 'e2e-viewer', scopes: ['jobs:read'] }));
      await page.goto(consoleUrl(`/jobs/${job.id}`));
      const cancel = page.getByRole('button', { name: 'Cancel job' });
      await cancel.waitFor();
      expect(await cancel.isDisabled()).toBe(true);
      expect(await page.getByTestId('cancel-reason').textContent()).toBe('Your token lacks the jobs:cancel scope');
      await page.goto(consoleUrl('/jobs'));
      await page.getByTestId('job-row').first().waitFor();
      expect(await page.getByRole('button', { name: /^Cancel selected/ }).isDisabled()).toBe(true);
      expect(await auditPage(page, 'jobs')).toEqual({ light: [], dark: [] });
      expect((await api('GET', `/v1/jobs/${job.id}`)).body.state).not.toBe('CANCELLED');
    } finally {
      // Leave nothing running for the suites after this one.
      await api('POST', `/v1/jobs/${job.id}/cancel`);
      await waitForJob(job.id, (j) => TERMINAL.includes(j.state));
    }
  });

  it('bulk cancel previews what it will do and reports what it did', async () => {
    const jobs = await Promise.all([1, 2].map(() => submit({ task_type: 'sleep', params: { seconds: 60 }, cpu: 1, mem_mb: 256, gpu: 0 })));
    const done = await submit({ task_type: 'sleep', params: { seconds: 0.2 }, cpu: 1, mem_mb: 256, gpu: 0 });
    await waitForJob(done.id, (j) => j.state === 'SUCCEEDED');
    await signInWithToken(page, tokenFor({ sub: 'e2e-bulk' }));
    await page.goto(consoleUrl('/jobs'));
    for (const job of [...jobs, done]) await page.getByLabel(`Select job ${job.id}`).check();
    await page.getByRole('button', { name: 'Cancel selected (3)' }).click();
    expect(await page.getByTestId('cancel-preview').textContent()).toContain('3 selected: 2 QUEUED or RUNNING will be cancelled; 1 already finished will be skipped.');
    await page.getByRole('button', { name: 'Cancel 2 job(s)' }).click();
    expect(await page.getByTestId('bulk-result').textContent()).toContain('Cancelled 2; skipped 1 already finished');
    for (const job of jobs) await waitForJob(job.id, (j) => j.state === 'CANCELLED');
  });

  it('an admin creates a tenant, sets its limits, and finds both changes in the audit log', async () => {
    const id = `e2e-t${Date.now().toString(36)}`;
    await signInWithToken(page, tokenFor({ sub: 'e2e-tenant-admin' }));
    await page.getByRole('link', { name: 'Tenants' }).click();
    await page.getByLabel('New tenant id').fill(id);
    await page.getByRole('button', { name: 'Create tenant' }).click();
    await page.getByRole('button', { name: `Edit ${id}` }).click();
    const limits = page.getByRole('form', { name: `Limits of ${id}` });
    await limits.getByLabel('Max GPUs').fill('3');
    await limits.getByLabel('Group limits (JSON)').fill('{"gpu": {"max_running_jobs": 1}}');
    await limits.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('button', { name: `Edit ${id}` }).waitFor();
    expect((await api('GET', `/v1/tenants/${id}`)).body).toMatchObject({ id, max_gpus: 3, group_limits: { gpu: { max_running_jobs: 1 } } });
    expect(await auditPage(page, 'tenants')).toEqual({ light: [], dark: [] });

    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByLabel('Target tenant').fill(id);
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(new RegExp(`target_tenant=${id}`));
    await page.waitForFunction(() => (document.querySelector('[data-testid="audit-table"]')?.textContent ?? '').includes('tenant.update'), null, { timeout: 15_000 });
    expect(await page.getByTestId('audit-table').textContent()).toContain('tenant.create');
    expect(await auditPage(page, 'audit')).toEqual({ light: [], dark: [] });
  });

  it('1,000 jobs: the first rows render fast, every page loads on scroll, the DOM stays small', async () => {
    await withDb(async (db) => {
      await db.query(`INSERT INTO tenants (id, name) VALUES ('e2e-perf', 'Console load test') ON CONFLICT (id) DO NOTHING`);
      // Finished history straight into the ledger: the page under test only reads it.
      await db.query(
        `INSERT INTO jobs (id, tenant_id, submitted_by, task_type, params, cpu_millis, mem_mb, gpu, state, max_attempts, timeout_seconds, result, created_at, finished_at)
         SELECT gen_random_uuid(), 'e2e-perf', 'loader', 'sleep', '{"seconds":1}', 1000, 256, 0, 'SUCCEEDED', 3, 3600, '{"slept":1}',
                now() - make_interval(secs => n), now() - make_interval(secs => n) + interval '1 second'
           FROM generate_series(1, 1000) AS n`,
      );
    });
    await signInWithToken(page, tokenFor({ tenant: 'e2e-perf', sub: 'loader' }));
    await page.getByRole('link', { name: 'Overview' }).waitFor();
    const started = Date.now();
    await page.goto(consoleUrl('/jobs'));
    await page.getByTestId('job-row').first().waitFor();
    measured.jobs_page_first_rows_ms = Date.now() - started;
    const scroller = page.getByTestId('jobs-scroller');
    const allStarted = Date.now();
    await page.waitForFunction(
      () => {
        const el = document.querySelector('[data-testid="jobs-scroller"]');
        if (el) el.scrollTop = el.scrollHeight;
        return document.querySelector('[data-testid="jobs-count"]')?.textContent === '1000 loaded';
      },
      null,
      { timeout: 60_000, polling: 100 },
    );
    measured.jobs_page_all_1000_loaded_ms = Date.now() - allStarted;
    measured.jobs_page_dom_rows = await page.getByTestId('job-row').count();
    expect(measured.jobs_page_dom_rows).toBeLessThan(80);
    expect(measured.jobs_page_first_rows_ms).toBeLessThan(3000);
    await scroller.evaluate((el) => (el.scrollTop = 0));
    await page.setViewportSize({ width: 480, height: 900 });
    // Narrow window: the page itself does not scroll sideways (the table scrolls inside its frame).
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(true);
    axe.narrow = await auditPage(page, 'jobs-narrow');
    expect(axe.narrow).toEqual({ light: [], dark: [] });
  });
});
