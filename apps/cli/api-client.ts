import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Artifact, ArtifactPage, ArtifactUploadOptions, ApiErrorDetail, AuditPage, AuditQuery, CreateJobRequest, Job, JobPage, ListJobsQuery, Tenant, TenantChanges, TenantList, Whoami, WorkerGroupList, WorkerList, WorkerNode } from './api-types';

/** The API answered with an error status; fields come from its `{error: {...}}` body when it has one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ApiErrorDetail[],
    readonly requestId: string | null,
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
  ) {
    super(`cannot reach the MLIS API at ${baseUrl}: ${reason}`);
  }
}

export interface ApiClientOptions {
  baseUrl: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  token?: string;
  requestTimeoutMs?: number;
}

interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
}

interface SendOptions {
  body?: string | WebReadableStream<Uint8Array>;
  headers?: Record<string, string>;
  /** Off for transfers, whose length has no bound: they end when the bytes do. */
  timeout: boolean;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

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

function parseErrorBody(status: number, statusText: string, text: string, headerRequestId: string | null): ApiError {
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
    return new ApiError(status, error.code, String(error.message ?? statusText), details, requestId);
  }
  // Not the API's error shape (a proxy, or another server on that port): show what came back.
  const snippet = text.trim().slice(0, 200);
  return new ApiError(status, `http_${status}`, snippet || statusText || 'no body', [], headerRequestId);
}

/** A thin typed client for the MLIS HTTP API. */
export class ApiClient {
  readonly baseUrl: string;

  constructor(private readonly options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  createJob(request: CreateJobRequest, idempotencyKey?: string): Promise<Job> {
    const headers: Record<string, string> = idempotencyKey === undefined ? {} : { 'Idempotency-Key': idempotencyKey };
    return this.request<Job>('POST', '/v1/jobs', { body: request, headers });
  }

  getJob(id: string): Promise<Job> {
    return this.request<Job>('GET', `/v1/jobs/${encodeURIComponent(id)}`);
  }

  listJobs(query: ListJobsQuery): Promise<JobPage> {
    const search = new URLSearchParams();
    if (query.limit !== undefined) search.set('limit', String(query.limit));
    if (query.state !== undefined) search.set('state', query.state);
    if (query.cursor !== undefined) search.set('cursor', query.cursor);
    const qs = search.toString();
    return this.request<JobPage>('GET', qs ? `/v1/jobs?${qs}` : '/v1/jobs');
  }

  cancelJob(id: string): Promise<Job> {
    return this.request<Job>('POST', `/v1/jobs/${encodeURIComponent(id)}/cancel`);
  }

  listWorkers(): Promise<WorkerList> {
    return this.request<WorkerList>('GET', '/v1/workers');
  }

  listWorkerGroups(): Promise<WorkerGroupList> {
    return this.request<WorkerGroupList>('GET', '/v1/worker-groups');
  }

  /** Drains (no new placements) or undrains a node. */
  setDraining(nodeId: string, draining: boolean): Promise<WorkerNode> {
    return this.request<WorkerNode>('POST', `/v1/workers/${encodeURIComponent(nodeId)}/${draining ? 'drain' : 'undrain'}`);
  }

  listTenants(): Promise<TenantList> {
    return this.request<TenantList>('GET', '/v1/tenants');
  }

  createTenant(tenant: TenantChanges): Promise<Tenant> {
    return this.request<Tenant>('POST', '/v1/tenants', { body: tenant });
  }

  updateTenant(id: string, changes: TenantChanges): Promise<Tenant> {
    return this.request<Tenant>('PATCH', `/v1/tenants/${encodeURIComponent(id)}`, { body: changes });
  }

  listAudit(query: AuditQuery): Promise<AuditPage> {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) search.set(key, String(value));
    const qs = search.toString();
    return this.request<AuditPage>('GET', qs ? `/v1/audit?${qs}` : '/v1/audit');
  }

  whoami(): Promise<Whoami> {
    return this.request<Whoami>('GET', '/v1/auth/whoami');
  }

  /** GET /v1/jobs/:id/result: the job's whole result JSON, streamed (it may be large). */
  async jobResult(id: string): Promise<Readable> {
    const response = await this.send('GET', `/v1/jobs/${encodeURIComponent(id)}/result`, { headers: { Accept: 'application/json' }, timeout: false });
    if (!response.body) throw new ApiError(response.status, 'invalid_response', 'the result has no body', [], response.headers.get('x-request-id'));
    return Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  }

  /** Streams `body` (never held whole) as a new artifact. */
  async uploadArtifact(body: Readable, options: ArtifactUploadOptions): Promise<Artifact> {
    const search = new URLSearchParams({ sha256: options.sha256 });
    if (options.name !== undefined) search.set('name', options.name);
    if (options.expiresInSeconds !== undefined) search.set('expires_in_seconds', String(options.expiresInSeconds));
    const response = await this.send('POST', `/v1/artifacts?${search.toString()}`, {
      body: Readable.toWeb(body) as WebReadableStream<Uint8Array>,
      headers: { 'Content-Type': options.contentType, 'Content-Length': String(options.sizeBytes), Accept: 'application/json' },
      timeout: false,
    });
    return this.json<Artifact>('POST', '/v1/artifacts', response, await this.text(response));
  }

  /** The artifact's bytes as a stream, with the ETag (its sha256, quoted) to check them against. */
  async downloadArtifact(id: string): Promise<{ body: Readable; etag: string | null; sizeBytes: number | null }> {
    const response = await this.send('GET', `/v1/artifacts/${encodeURIComponent(id)}`, { timeout: false });
    if (!response.body) throw new ApiError(response.status, 'invalid_response', 'the download has no body', [], response.headers.get('x-request-id'));
    const length = response.headers.get('content-length');
    return {
      body: Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
      etag: response.headers.get('etag'),
      sizeBytes: length === null ? null : Number(length),
    };
  }

  listArtifacts(query: { limit?: number; cursor?: string }): Promise<ArtifactPage> {
    const search = new URLSearchParams();
    if (query.limit !== undefined) search.set('limit', String(query.limit));
    if (query.cursor !== undefined) search.set('cursor', query.cursor);
    const qs = search.toString();
    return this.request<ArtifactPage>('GET', qs ? `/v1/artifacts?${qs}` : '/v1/artifacts');
  }

  async deleteArtifact(id: string): Promise<void> {
    const response = await this.send('DELETE', `/v1/artifacts/${encodeURIComponent(id)}`, { timeout: true });
    await this.text(response);
  }

  private async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await this.send(method, path, {
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      timeout: true,
    });
    return this.json<T>(method, path, response, await this.text(response));
  }

  /** One call; an error status becomes an ApiError, no answer an ApiUnreachableError. */
  private async send(method: string, path: string, options: SendOptions): Promise<Response> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.options.token) headers.Authorization = `Bearer ${this.options.token}`;
    const timeoutMs = this.options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: options.body,
        // A streamed request body needs half duplex (Node's fetch).
        ...(typeof options.body === 'object' ? { duplex: 'half' } : {}),
        signal: options.timeout ? AbortSignal.timeout(timeoutMs) : undefined,
      } as RequestInit);
    } catch (error) {
      throw this.unreachable(error, timeoutMs);
    }
    if (!response.ok) {
      throw parseErrorBody(response.status, response.statusText, await this.text(response), response.headers.get('x-request-id'));
    }
    return response;
  }

  private async text(response: Response): Promise<string> {
    try {
      return await response.text();
    } catch (error) {
      throw this.unreachable(error, this.options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
    }
  }

  private unreachable(error: unknown, timeoutMs: number): ApiUnreachableError {
    if ((error as Error).name === 'TimeoutError') return new ApiUnreachableError(this.baseUrl, `no answer within ${timeoutMs / 1000} s`, false);
    const code = networkFailure(error);
    if (code === 'ECONNREFUSED') return new ApiUnreachableError(this.baseUrl, 'connection refused', true);
    return new ApiUnreachableError(this.baseUrl, code ?? (error as Error).message, false);
  }

  private json<T>(method: string, path: string, response: Response, text: string): T {
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(response.status, 'invalid_response', `${method} ${path} answered with a body that is not JSON`, [], response.headers.get('x-request-id'));
    }
  }
}
