import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from '@mlis/api-client';
import { readToken } from '../lib/session';

export type Job = components['schemas']['JobResponseDto'];
export type Assignment = components['schemas']['AssignmentResponseDto'];
export type Node = components['schemas']['NodeResponseDto'];
export type Whoami = components['schemas']['WhoamiResponseDto'];
export type ConsoleConfig = components['schemas']['ConsoleConfigResponseDto'];
export type JobListQuery = NonNullable<paths['/v1/jobs']['get']['parameters']['query']>;
export type CreateJob = components['schemas']['CreateJobDto'];
export type Artifact = components['schemas']['ArtifactResponseDto'];
export type { components };
export type ErrorBody = components['schemas']['ErrorBodyDto'];
export type JobState = Job['state'];

export const JOB_STATES: readonly JobState[] = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'];
export const UNAUTHORIZED_EVENT = 'mlis:unauthorized';

/** A non-2xx answer from the API, with its error body; `status` 0 means the API could not be reached. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId?: string,
    readonly details?: ErrorBody['details'],
  ) {
    super(message);
  }

  get unreachable(): boolean {
    return this.status === 0;
  }
}

/** What a failed load threw, as an ApiError: those of the client as they are, anything else as a client error. */
export function toApiError(cause: unknown): ApiError {
  return cause instanceof ApiError ? cause : new ApiError(0, 'client_error', String(cause));
}

/** An expired or revoked token: the console goes back to sign-in. */
export function endSession(): void {
  window.dispatchEvent(new Event(UNAUTHORIZED_EVENT));
}

const auth: Middleware = {
  onRequest({ request }) {
    const token = readToken();
    if (token) request.headers.set('Authorization', `Bearer ${token}`);
    return request;
  },
  onResponse({ response, schemaPath }) {
    // An expired or revoked token: back to sign-in, whatever page asked. Not the sign-in check (whoami) itself:
    // there was no session to end, and signIn reports the refusal.
    if (response.status === 401 && schemaPath !== '/v1/auth/whoami') endSession();
    return response;
  },
};

/** The typed client, generated from the API's own OpenAPI document (libs/api-client/schema.d.ts). Same origin. */
export const api = createClient<paths>({ baseUrl: '' });
api.use(auth);

type Result<T> = { data?: T; error?: unknown; response: Response };

/** The data of a typed call, or an ApiError carrying the project's error body. */
export async function unwrap<T>(call: Promise<Result<T>>): Promise<T> {
  let result: Result<T>;
  try {
    result = await call;
  } catch (cause) {
    throw new ApiError(0, 'unreachable', `The API could not be reached (${cause instanceof Error ? cause.message : String(cause)})`);
  }
  if (result.response.ok) return result.data as T;
  throw apiErrorOf(result.response.status, result.error, result.response.headers.get('x-request-id'));
}

/** The ApiError of a refused call: its status, and the project's error body when the answer carried one. */
export function apiErrorOf(status: number, answer: unknown, requestIdHeader: string | null): ApiError {
  const body = (answer as { error?: ErrorBody } | undefined)?.error;
  return new ApiError(status, body?.code ?? 'http_error', body?.message ?? `HTTP ${status}`, body?.request_id ?? requestIdHeader ?? undefined, body?.details);
}
