import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { paths } from '@mlis/api-client';
import type { ApiErrorDetail, Artifact, ArtifactPage, AuditExportPage, AuditExportQuery, AuditPage, AuditQuery, CreateJobRequest, CreateTenantRequest, Job, JobPage, ListArtifactsQuery, ListJobsQuery, RevokeTokensRequest, Tenant, TenantList, TokenRevocation, TokenRevocationList, UpdateTenantRequest, Whoami, WorkerGroupList, WorkerList, WorkerNode } from './api-types';

// Every route is typed from the generated `paths`: a route, its path and query parameters, headers, JSON body and
// success body all come from the API's OpenAPI document, so a change there fails the CLI's typecheck.
export type Method = 'get' | 'post' | 'patch' | 'delete';
/** The routes that answer `M`. */
export type RouteWith<M extends Method> = { [R in keyof paths]: paths[R][M] extends undefined ? never : R }[keyof paths];
export type Operation<R extends keyof paths, M extends Method> = NonNullable<paths[R][M]>;
type JsonOf<T> = T extends { content: { 'application/json': infer B } } ? B : never;
/** The JSON body a route answers with on success. */
export type SuccessBody<Op> = Op extends { responses: infer S } ? JsonOf<S[Extract<keyof S, 200 | 201 | 202>]> : never;
type PathParams<Op> = Op extends { parameters: { path: infer P } } ? P : never;
type QueryParams<Op> = Op extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;
type HeaderParams<Op> = Op extends { parameters: { header?: infer H } } ? NonNullable<H> : never;
type JsonBody<Op> = Op extends { requestBody: { content: { 'application/json': infer B } } } ? B : never;
/** What one call of a route sends: `path` is required when the route has path parameters. */
export type RouteParts<Op> = ([PathParams<Op>] extends [never] ? { path?: never } : { path: PathParams<Op> }) & {
  query?: QueryParams<Op>;
  headers?: HeaderParams<Op>;
  body?: JsonBody<Op>;
};

/** What an upload records besides the bytes. */
export interface ArtifactUploadOptions {
  name?: string;
  contentType: string;
  expiresInSeconds?: number;
  /** The bytes' sha256: the API refuses (and keeps nothing) when what arrived differs. */
  sha256: string;
  sizeBytes: number;
  /** Repeating the upload with this key returns the artifact it made instead of a second one. */
  idempotencyKey?: string;
}

/** The API answered with an error status; fields come from its `{error: {...}}` body when it has one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ApiErrorDetail[],
    readonly requestId: string | null,
    /** The Retry-After header's seconds, when the API sent one. */
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(message);
  }
}

/** No HTTP answer at all: refused, reset, unresolvable host or timed out. */
export class ApiUnreachableError extends Error {
  constructor(
    readonly baseUrl: string,
    readonly reason: string,
    readonly refused: boolean,
    /** The connection was closed or reset before an answer came (the API stopped mid-request). */
    readonly dropped = false,
  ) {
    super(`cannot reach the MLIS API at ${baseUrl}: ${reason}`);
  }
}

/** A failure that says nothing about the request: the API restarting, unreachable, or failing (5xx). Worth asking again. */
export function isTransient(error: unknown): boolean {
  return error instanceof ApiUnreachableError || (error instanceof ApiError && error.status >= 500);
}

export interface ApiClientOptions {
  baseUrl: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  token?: string;
  /** How many times a call safe to repeat is sent again after a 503 or a refused or dropped connection (DEFAULT_RETRIES); 0: never. */
  retries?: number;
  /** Told of each retry before its pause (the CLI writes it to stderr). */
  onRetry?: (line: string) => void;
  /** How a retry's pause is waited out; tests pass one that records it. */
  sleep?: (ms: number) => Promise<void>;
}

/** Per call: a caller that rides out failures itself (`--wait`, `audit export --follow`) sends it once. */
export interface CallOptions {
  retry?: boolean;
}

export const DEFAULT_RETRIES = 3;
// Without a Retry-After: 1 s, then twice as long each time; a longer Retry-After than the cap is the API saying
// "not soon", and the user hears of it rather than wait in silence.
const RETRY_FIRST_PAUSE_MS = 1000;
const RETRY_AFTER_MAX_SECONDS = 10;

/**
 * The pause before sending a call again, or undefined when its failure is not worth another try: only a 503 (the API
 * or what it needs is restarting), a refused connection (the API is not up) and one dropped before the answer (it
 * stopped mid-request) are. A call is only ever retried when a repeat cannot apply it twice.
 */
function retryPauseMs(error: unknown, retry: number): number | undefined {
  const backoffMs = RETRY_FIRST_PAUSE_MS * 2 ** retry;
  if (error instanceof ApiUnreachableError) return error.refused || error.dropped ? backoffMs : undefined;
  if (!(error instanceof ApiError) || error.status !== 503) return undefined;
  if (error.retryAfterSeconds === null) return backoffMs;
  return error.retryAfterSeconds > RETRY_AFTER_MAX_SECONDS ? undefined : error.retryAfterSeconds * 1000;
}

/** A failure that is about to be retried: not an error yet. */
function describeFailure(error: Error): string {
  return error instanceof ApiError ? `${error.code}: ${error.message}` : error.message;
}

interface SendOptions {
  /** A streamed body is given as a function that opens it, so that a retry sends it afresh. */
  body?: string | (() => WebReadableStream<Uint8Array>);
  headers?: Record<string, string>;
  /** Off for transfers, whose length has no bound: they end when the bytes do. */
  timeout: boolean;
  extraTimeoutMs?: number;
  /**
   * Sent again after a 503 or a refused or dropped connection. Every GET is; a POST only when a repeat cannot apply it
   * twice (a submission or an upload with its Idempotency-Key).
   */
  retry: boolean;
}

// A connection closed or reset under a request (undici names a peer's close UND_ERR_SOCKET).
const DROPPED = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/** Per request; a long-poll adds its wait to it (`extraTimeoutMs`). */
const REQUEST_TIMEOUT_MS = 30_000;

// fetch() reports network failures as TypeError('fetch failed') with the socket error (or an
// AggregateError of them, one per address) as its cause.
function networkFailure(error: unknown): string | undefined {
  const cause = (error as { cause?: unknown }).cause as
    | { code?: unknown; message?: unknown; errors?: { code?: unknown }[] }
    | undefined;
  if (typeof cause?.code === 'string') return cause.code;
  const nested = cause?.errors?.find((item) => typeof item.code === 'string');
  if (nested) return String(nested.code);
  return typeof cause?.message === 'string' && cause.message !== '' ? cause.message : undefined;
}

/** Retry-After in seconds; its HTTP-date form is not one the API sends. */
function retryAfterSeconds(header: string | null): number | null {
  return header !== null && /^\d+$/.test(header.trim()) ? Number(header) : null;
}

function parseErrorBody(status: number, statusText: string, text: string, headerRequestId: string | null, retryAfter: number | null): ApiError {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const error = (body as { error?: Record<string, unknown> } | undefined)?.error;
  if (error && typeof error.code === 'string') {
    const details = Array.isArray(error.details) ? (error.details as ApiErrorDetail[]) : [];
    const requestId = typeof error.request_id === 'string' ? error.request_id : headerRequestId;
    return new ApiError(status, error.code, String(error.message ?? statusText), details, requestId, retryAfter);
  }
  // Not the API's error shape (a proxy, or another server on that port): show what came back.
  const snippet = text.trim().slice(0, 200);
  return new ApiError(status, `http_${status}`, snippet || statusText || 'no body', [], headerRequestId, retryAfter);
}

/** The URL path of `route` with its path parameters filled in and its query appended (absent values left out). */
function routePath(route: string, path: object | undefined, query: object | undefined): string {
  const params = (path ?? {}) as Record<string, unknown>;
  const filled = route.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(String(params[name])));
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) search.set(key, String(value));
  const qs = search.toString();
  return qs ? `${filled}?${qs}` : filled;
}

/** Header parameters as fetch takes them; absent ones left out. */
function headerValues(headers: object | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).flatMap(([name, value]) => (value === undefined ? [] : [[name, String(value)]])));
}

/** A thin client for the MLIS HTTP API, typed from the generated contract. */
export class ApiClient {
  readonly baseUrl: string;

  constructor(private readonly options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  /**
   * Without a key of the caller's, the submission gets one of its own, so that sending it again after a 503 or a lost
   * answer returns the job it made instead of a second one.
   */
  createJob(request: CreateJobRequest, idempotencyKey: string = randomUUID()): Promise<Job> {
    return this.request('post', '/v1/jobs', { body: request, headers: { 'Idempotency-Key': idempotencyKey } }, { retry: true });
  }

  /** With `waitSeconds` (1-60) a long-poll: the API answers once the job is final or the wait ends. */
  getJob(id: string, waitSeconds = 0, call: CallOptions = {}): Promise<Job> {
    if (waitSeconds === 0) return this.request('get', '/v1/jobs/{id}', { path: { id } }, call);
    return this.request('get', '/v1/jobs/{id}', { path: { id }, query: { wait: waitSeconds } }, call, waitSeconds * 1000);
  }

  listJobs(query: ListJobsQuery): Promise<JobPage> {
    return this.request('get', '/v1/jobs', { query });
  }

  cancelJob(id: string): Promise<Job> {
    return this.request('post', '/v1/jobs/{id}/cancel', { path: { id } });
  }

  listWorkers(): Promise<WorkerList> {
    return this.request('get', '/v1/workers', {});
  }

  listWorkerGroups(): Promise<WorkerGroupList> {
    return this.request('get', '/v1/worker-groups', {});
  }

  /** Drains (no new placements) or undrains a node. */
  setDraining(nodeId: string, draining: boolean): Promise<WorkerNode> {
    return draining
      ? this.request('post', '/v1/workers/{id}/drain', { path: { id: nodeId } })
      : this.request('post', '/v1/workers/{id}/undrain', { path: { id: nodeId } });
  }

  listTenants(): Promise<TenantList> {
    return this.request('get', '/v1/tenants', {});
  }

  createTenant(tenant: CreateTenantRequest): Promise<Tenant> {
    return this.request('post', '/v1/tenants', { body: tenant });
  }

  updateTenant(id: string, changes: UpdateTenantRequest): Promise<Tenant> {
    return this.request('patch', '/v1/tenants/{id}', { path: { id }, body: changes });
  }

  listAudit(query: AuditQuery): Promise<AuditPage> {
    return this.request('get', '/v1/audit', { query });
  }

  exportAudit(query: AuditExportQuery, call: CallOptions = {}): Promise<AuditExportPage> {
    return this.request('get', '/v1/audit/export', { query }, call);
  }

  revokeTokens(holder: RevokeTokensRequest): Promise<TokenRevocation> {
    return this.request('post', '/v1/auth/revocations', { body: holder });
  }

  listRevocations(): Promise<TokenRevocationList> {
    return this.request('get', '/v1/auth/revocations', {});
  }

  whoami(): Promise<Whoami> {
    return this.request('get', '/v1/auth/whoami', {});
  }

  /** GET /v1/jobs/:id/result: the job's whole result JSON, streamed (it may be large). */
  async jobResult(id: string): Promise<Readable> {
    const path = this.path('get', '/v1/jobs/{id}/result', { path: { id } });
    const response = await this.send('GET', path, { headers: { Accept: 'application/json' }, timeout: false, retry: true });
    if (!response.body) throw new ApiError(response.status, 'invalid_response', 'the result has no body', [], response.headers.get('x-request-id'));
    return Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  }

  /**
   * Streams the bytes `open` reads (never held whole) as a new artifact. With an Idempotency-Key the upload is sent
   * again, from a fresh `open()`, after a 503 or a refused or dropped connection.
   */
  async uploadArtifact(open: () => Readable, options: ArtifactUploadOptions): Promise<Artifact> {
    const path = this.path('post', '/v1/artifacts', { query: { sha256: options.sha256, name: options.name, expires_in_seconds: options.expiresInSeconds } });
    const response = await this.send('POST', path, {
      body: () => Readable.toWeb(open()) as WebReadableStream<Uint8Array>,
      headers: {
        'Content-Type': options.contentType,
        'Content-Length': String(options.sizeBytes),
        Accept: 'application/json',
        ...headerValues({ 'Idempotency-Key': options.idempotencyKey }),
      },
      timeout: false,
      retry: options.idempotencyKey !== undefined,
    });
    return this.json<SuccessBody<Operation<'/v1/artifacts', 'post'>>>('POST', '/v1/artifacts', response, await this.text(response));
  }

  /**
   * The artifact's bytes as a stream, with the ETag (its sha256, quoted) to check them against; from `fromByte` on (a
   * download picking up where it broke off) with a Range request, whose answer must start there. `sizeBytes`: what this
   * answer carries.
   */
  async downloadArtifact(id: string, fromByte = 0): Promise<{ body: Readable; etag: string | null; sizeBytes: number | null }> {
    const headers: Record<string, string> = fromByte > 0 ? { Range: `bytes=${fromByte}-` } : {};
    const response = await this.send('GET', this.path('get', '/v1/artifacts/{id}', { path: { id } }), { headers, timeout: false, retry: true });
    const requestId = response.headers.get('x-request-id');
    if (fromByte > 0 && (response.status !== 206 || !response.headers.get('content-range')?.startsWith(`bytes ${fromByte}-`))) {
      await response.body?.cancel();
      throw new ApiError(response.status, 'invalid_response', `the download did not resume at byte ${fromByte}`, [], requestId);
    }
    if (!response.body) throw new ApiError(response.status, 'invalid_response', 'the download has no body', [], requestId);
    const length = response.headers.get('content-length');
    return {
      body: Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
      etag: response.headers.get('etag'),
      sizeBytes: length === null ? null : Number(length),
    };
  }

  listArtifacts(query: ListArtifactsQuery): Promise<ArtifactPage> {
    return this.request('get', '/v1/artifacts', { query });
  }

  async deleteArtifact(id: string): Promise<void> {
    const response = await this.send('DELETE', this.path('delete', '/v1/artifacts/{id}', { path: { id } }), { timeout: true, retry: false });
    await this.text(response);
  }

  /** The concrete path of one call of a route; the route and its parameters are checked against the contract. */
  private path<M extends Method, R extends RouteWith<M>>(_method: M, route: R, parts: RouteParts<Operation<R, M>>): string {
    return routePath(route, parts.path, parts.query);
  }

  /**
   * One JSON call of a route, answered with the route's success body; a GET is sent again after a 503 or a refused
   * connection unless `call.retry` is false, another method only when it is true. `extraTimeoutMs`: how long the server
   * may hold it (a long-poll).
   */
  private async request<M extends Method, R extends RouteWith<M>>(
    method: M,
    route: R,
    parts: RouteParts<Operation<R, M>>,
    call: CallOptions = {},
    extraTimeoutMs = 0,
  ): Promise<SuccessBody<Operation<R, M>>> {
    const path = routePath(route, parts.path, parts.query);
    const verb = method.toUpperCase();
    const headers: Record<string, string> = { Accept: 'application/json', ...headerValues(parts.headers) };
    if (parts.body !== undefined) headers['Content-Type'] = 'application/json';
    const options: SendOptions = {
      headers,
      body: parts.body === undefined ? undefined : JSON.stringify(parts.body),
      timeout: true,
      extraTimeoutMs,
      retry: call.retry ?? method === 'get',
    };
    // The answer's body is part of the try: one that breaks off after its headers is sent again like one with none.
    const { response, text } = await this.withRetries(options.retry, async () => {
      const answer = await this.sendOnce(verb, path, options);
      return { response: answer, text: await this.text(answer) };
    });
    return this.json(verb, path, response, text);
  }

  /** One call, sent again (options.retry) while it fails in a way worth another try and retries are left. */
  private send(method: string, path: string, options: SendOptions): Promise<Response> {
    return this.withRetries(options.retry, () => this.sendOnce(method, path, options));
  }

  /** `attempt` again while it fails in a way worth another try and retries are left (none unless `retry`). */
  private async withRetries<T>(retry: boolean, attempt: () => Promise<T>): Promise<T> {
    const retries = retry ? (this.options.retries ?? DEFAULT_RETRIES) : 0;
    for (let tries = 0; ; tries++) {
      try {
        return await attempt();
      } catch (error) {
        const pauseMs = tries < retries ? retryPauseMs(error, tries) : undefined;
        if (pauseMs === undefined) throw error;
        this.options.onRetry?.(`${describeFailure(error as Error)}; sending it again in ${pauseMs / 1000} s (${tries + 1} of ${retries})`);
        await (this.options.sleep ?? sleep)(pauseMs);
      }
    }
  }

  /** One call; an error status becomes an ApiError, no answer an ApiUnreachableError. */
  private async sendOnce(method: string, path: string, options: SendOptions): Promise<Response> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.options.token) headers.Authorization = `Bearer ${this.options.token}`;
    const timeoutMs = REQUEST_TIMEOUT_MS + (options.extraTimeoutMs ?? 0);
    let response: Response;
    try {
      const body = typeof options.body === 'function' ? options.body() : options.body;
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body,
        // A streamed request body needs half duplex (Node's fetch).
        ...(typeof body === 'object' ? { duplex: 'half' } : {}),
        signal: options.timeout ? AbortSignal.timeout(timeoutMs) : undefined,
      } as RequestInit);
    } catch (error) {
      throw this.unreachable(error, timeoutMs);
    }
    if (!response.ok) {
      const retryAfter = retryAfterSeconds(response.headers.get('retry-after'));
      throw parseErrorBody(response.status, response.statusText, await this.text(response), response.headers.get('x-request-id'), retryAfter);
    }
    return response;
  }

  private async text(response: Response): Promise<string> {
    try {
      return await response.text();
    } catch (error) {
      throw this.unreachable(error, REQUEST_TIMEOUT_MS);
    }
  }

  private unreachable(error: unknown, timeoutMs: number): ApiUnreachableError {
    if ((error as Error).name === 'TimeoutError') return new ApiUnreachableError(this.baseUrl, `no answer within ${timeoutMs / 1000} s`, false);
    const code = networkFailure(error);
    if (code === 'ECONNREFUSED') return new ApiUnreachableError(this.baseUrl, 'connection refused', true);
    return new ApiUnreachableError(this.baseUrl, code ?? (error as Error).message, false, code !== undefined && DROPPED.has(code));
  }

  private json<T>(method: string, path: string, response: Response, text: string): T {
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(response.status, 'invalid_response', `${method} ${path} answered with a body that is not JSON`, [], response.headers.get('x-request-id'));
    }
  }
}
