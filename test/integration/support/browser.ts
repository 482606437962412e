/// <reference lib="dom" />
// Functions passed to page.evaluate run in the browser.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { env } from './api';
import { ROOT } from './stack-env';

export const CHROMIUM = '/usr/bin/chromium';
// A test run leaves the committed screenshots alone; MLIS_UPDATE_SCREENSHOTS=1 refreshes the README's (docs/console).
export const SCREENSHOTS = join(ROOT, process.env.MLIS_UPDATE_SCREENSHOTS === '1' ? 'docs/console' : '.mlis/console-screenshots');
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** Debian's chromium, headless (scripts/install-chromium.sh puts it there; npm test runs that first). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

export function consoleUrl(path = ''): string {
  return `${env.apiUrl}/console${path}`;
}

/** Signs in by pasting a token, as an operator would. */
export async function signInWithToken(page: Page, token: string): Promise<void> {
  await page.goto(consoleUrl('/'));
  await page.getByLabel('Bearer token').fill(token);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByTestId('identity').waitFor();
}

export type Theme = 'light' | 'dark';

export async function setTheme(page: Page, theme: Theme): Promise<void> {
  // As another tab would: the console follows storage events, so its own theme switch shows the same.
  await page.evaluate((value) => {
    localStorage.setItem('mlis.theme', value);
    document.documentElement.dataset.theme = value;
    window.dispatchEvent(new StorageEvent('storage', { key: 'mlis.theme', newValue: value }));
  }, theme);
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/** axe-core, injected into the page: the violations of serious or critical impact. */
export async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: AXE });
  const violations = await page.evaluate(async () => {
    type AxeResult = { violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[] };
    const result = await (window as unknown as { axe: { run(): Promise<AxeResult> } }).axe.run();
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Checks a page with axe in both themes and writes a screenshot of each to SCREENSHOTS/<name>-<theme>.png. */
export async function auditPage(page: Page, name: string): Promise<Record<Theme, AxeViolation[]>> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const found = {} as Record<Theme, AxeViolation[]>;
  for (const theme of ['light', 'dark'] as const) {
    await setTheme(page, theme);
    found[theme] = await seriousAxeViolations(page);
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-${theme}.png`), fullPage: false });
  }
  await setTheme(page, 'light');
  return found;
}
