import { act } from '@testing-library/react';
import { vi } from 'vitest';

type Handler = ((event: ProgressEvent) => void) | null;

/**
 * A stand-in for the browser's XMLHttpRequest in component tests (lib/upload.ts sends uploads through it): records what
 * was sent, and lets the test play the upload's progress and the API's answer. `installFakeXhr()` in a test, undone by
 * `vi.unstubAllGlobals()`.
 */
export class FakeXhr {
  static sent: FakeXhr[] = [];
  method = '';
  url = '';
  headers: Record<string, string> = {};
  body: unknown;
  aborted = false;
  responseType = '';
  status = 0;
  response: unknown = null;
  private responseHeaders: Record<string, string> = {};
  upload: { onprogress: Handler } = { onprogress: null };
  onload: Handler = null;
  onerror: Handler = null;
  onabort: Handler = null;

  open(method: string, url: string): void {
    this.method = method;
    this.url = url;
  }

  setRequestHeader(name: string, value: string): void {
    this.headers[name] = value;
  }

  getResponseHeader(name: string): string | null {
    return this.responseHeaders[name.toLowerCase()] ?? null;
  }

  send(body: unknown): void {
    this.body = body;
    FakeXhr.sent.push(this);
  }

  abort(): void {
    this.aborted = true;
    this.onabort?.(new ProgressEvent('abort'));
  }

  /** `sent` bytes of the body have gone out. */
  progress(sent: number, total: number): void {
    act(() => this.upload.onprogress?.(new ProgressEvent('progress', { loaded: sent, total, lengthComputable: true })));
  }

  /** The API answered. */
  answer(status: number, body: unknown, headers: Record<string, string> = {}): void {
    this.status = status;
    this.response = body;
    this.responseHeaders = headers;
    act(() => this.onload?.(new ProgressEvent('load')));
  }

  /** The connection failed before an answer. */
  fail(): void {
    act(() => this.onerror?.(new ProgressEvent('error')));
  }
}

export function installFakeXhr(): typeof FakeXhr {
  FakeXhr.sent = [];
  vi.stubGlobal('XMLHttpRequest', FakeXhr);
  return FakeXhr;
}

/** The one upload sent so far, once it has been. */
export async function sentUpload(): Promise<FakeXhr> {
  await vi.waitFor(() => {
    if (FakeXhr.sent.length !== 1) throw new Error(`${FakeXhr.sent.length} uploads sent`);
  });
  return FakeXhr.sent[0];
}
