import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { NodeConfig } from '@mlis/config';
import { unavailable, type ApiEndpoints } from './api-endpoints';
import type { AdvertisedGpu } from './gpu-probe';
import { StartReportRefusedError } from '../../activities/execution.activities';

/** Body of POST /v1/internal/nodes/register. */
export interface RegisterNodeRequest {
  node_id: string;
  group: string;
  hostname: string;
  pid: number;
  slots: number;
  cpu_millis: number;
  mem_mb: number;
  gpus: AdvertisedGpu[];
  /** key=value labels that jobs select nodes by (MLIS_NODE_LABELS). */
  labels: Record<string, string>;
}

export interface RegisterNodeResponse {
  node_id: string;
  group: string;
  incarnation: number;
  task_queue: string;
  heartbeat_seconds: number;
  /** Bearer credential of this incarnation's heartbeats; never logged. */
  worker_token: string;
}

/** Body of POST /v1/internal/nodes/:id/token's answer: a fresh worker token for the same incarnation. */
export interface WorkerTokenResponse {
  node_id: string;
  incarnation: number;
  worker_token: string;
}

/** Registration cannot succeed: the API refused it, or did not answer before the deadline. */
export class RegistrationError extends Error {}

export interface NodeRegistrationOptions {
  /** The node's APIs: a call the preferred one does not answer, or answers 502/503/504, goes to the next at once. */
  api: ApiEndpoints;
  /** Presented once per registration as the bearer credential; never logged. */
  bootstrapSecret: string;
  request: RegisterNodeRequest;
  log: (line: string) => void;
  /** Called once when this process must stop serving the node: superseded, or moved to another queue. */
  onFatal: (reason: string) => void;
  /**
   * How long register() keeps retrying while the API is unreachable or unavailable; by default until the process
   * stops. Giving up would only hand the node to its supervisor, which starts it again after a delay that grows with
   * every exit: a node that waits here registers as soon as the API is back.
   */
  registerDeadlineMs?: number;
  /** First retry delay; doubles up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  requestTimeoutMs?: number;
}

/** What the node advertises: its configured capacity and labels, and the GPUs the probe found. */
export function registerNodeRequest(node: NodeConfig, gpus: AdvertisedGpu[], hostname: string, pid: number): RegisterNodeRequest {
  return {
    node_id: node.nodeId,
    group: node.group,
    hostname,
    pid,
    slots: node.slots,
    cpu_millis: node.cpuMillis,
    mem_mb: node.memMb,
    gpus,
    labels: node.labels,
  };
}

interface Reply {
  status: number;
  body: unknown;
}

/** What the last API tried said, for a log line. */
function problemOf(last: { reply: Reply } | { error: unknown } | undefined): string {
  if (last === undefined) return 'not asked';
  if ('reply' in last) return `HTTP ${last.reply.status}`;
  return last.error instanceof Error ? last.error.message : String(last.error);
}

function errorCode(body: unknown): string {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return error ? `${String(error.code)}: ${String(error.message)}` : JSON.stringify(body);
}

/**
 * When a JWT's life is half over (epoch ms), read from its unverified claims; undefined for anything else.
 * Only a hint for refreshing early: the API still decides whether the token is accepted.
 */
export function refreshDueAt(token: string): number | undefined {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { iat?: unknown; exp?: unknown };
    if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number' || claims.exp <= claims.iat) return undefined;
    return ((claims.iat + claims.exp) / 2) * 1000;
  } catch {
    return undefined;
  }
}

// 408/429/5xx mean "not now"; any other 4xx will not change by asking again.
function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * The node's membership in the ledger: registers with the bootstrap secret (retrying while the API
 * starts), then heartbeats its liveness with the worker token the registration returned. Half-way through
 * the token's life, or when a heartbeat answers 401 (expired, or a new signing key), it asks for a fresh
 * token for the same incarnation, so running work keeps its placement; a half-life renewal that does not happen
 * leaves the old token in use. A 404 means the API forgot the node (or declared it dead): register again, as a new
 * incarnation. A 409 means another process registered the same node id since: this one must stop. So must one whose
 * expired token, or registration again, the API refuses for good (a rotated bootstrap secret): a restart reads the
 * current one.
 */
export class NodeRegistration {
  private current: RegisterNodeResponse | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly stopping = new AbortController();
  private readonly httpAgent = new HttpAgent({ keepAlive: true });
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true });
  private failing = false;
  private beating: Promise<void> = Promise.resolve();

  constructor(private readonly options: NodeRegistrationOptions) {}

  get registration(): RegisterNodeResponse | undefined {
    return this.current;
  }

  /** True once stop() ran, or the API told this process to stop. */
  get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  /** Registers, retrying with backoff on network errors and 5xx until the deadline. */
  async register(): Promise<RegisterNodeResponse> {
    const deadline = Date.now() + (this.options.registerDeadlineMs ?? Number.POSITIVE_INFINITY);
    let backoff = this.options.initialBackoffMs ?? 250;
    for (;;) {
      let problem: string;
      try {
        const reply = await this.post('/v1/internal/nodes/register', this.options.request, this.options.bootstrapSecret);
        if (reply.status === 200) return (this.current = reply.body as RegisterNodeResponse);
        problem = `HTTP ${reply.status} ${errorCode(reply.body)}`;
        if (!retryable(reply.status)) throw new RegistrationError(`registration refused: ${problem}`);
      } catch (error) {
        if (error instanceof RegistrationError) throw error;
        if (this.stopping.signal.aborted) throw new RegistrationError('registration stopped');
        problem = error instanceof Error ? error.message : String(error);
      }
      const wait = Math.min(backoff, deadline - Date.now());
      if (wait <= 0) throw new RegistrationError(`no API (${this.options.api.inTurn().join(', ')}) accepted the registration in time: ${problem}`);
      this.options.log(`register: ${problem}; retrying in ${wait} ms`);
      await this.pause(wait);
      if (this.stopping.signal.aborted) throw new RegistrationError('registration stopped');
      backoff = Math.min(backoff * 2, this.options.maxBackoffMs ?? 5000);
    }
  }

  /**
   * Tells the API this incarnation started an assignment `runningForMs` ago: PLACED → RUNNING in the ledger (ADRs 0018,
   * 0030). Rejects with StartReportRefusedError when no retry can help (a 409: the assignment is not PLACED here any
   * more, its workflow decides the rest; or another refusal of the request itself), with a plain error when a retry
   * may (no answer, an answer `retryable` names, or a 401).
   */
  async reportStarted(assignmentId: string, runningForMs: number): Promise<void> {
    const current = this.current;
    if (!current) throw new RegistrationError('not registered');
    const reply = await this.post(
      `/v1/internal/nodes/${encodeURIComponent(current.node_id)}/assignments/${encodeURIComponent(assignmentId)}/started`,
      { incarnation: current.incarnation, running_for_ms: runningForMs },
      current.worker_token,
    );
    if (reply.status === 200) return;
    const answer = `HTTP ${reply.status} ${errorCode(reply.body)}`;
    // A 401 too: the heartbeat's token renewal cures it.
    throw retryable(reply.status) || reply.status === 401 ? new Error(answer) : new StartReportRefusedError(answer);
  }

  /** Starts heartbeating every heartbeat_seconds; needs a successful register() first. */
  start(): void {
    if (!this.current) throw new Error('register() before start()');
    this.schedule();
  }

  /**
   * Stops heartbeating and tells the API this incarnation is leaving, so nothing more is placed on it (the reaper
   * would take MLIS_NODE_DEAD_AFTER_SECONDS to notice). Resolves once an API answered, or after requestTimeoutMs for
   * each API asked; never fails: without an answer, the reaper still ends the node.
   */
  async leave(): Promise<void> {
    const current = this.current;
    this.stop();
    if (!current) return;
    try {
      const reply = await this.post(
        `/v1/internal/nodes/${encodeURIComponent(current.node_id)}/leave`,
        { incarnation: current.incarnation },
        current.worker_token,
        // Already stopped: only the timeout bounds the farewell.
        null,
      );
      if (reply.status !== 204) this.options.log(`leave: HTTP ${reply.status} ${errorCode(reply.body)}; the API marks the node DEAD once it stays silent`);
    } catch (error) {
      this.options.log(`leave: ${error instanceof Error ? error.message : String(error)}; the API marks the node DEAD once it stays silent`);
    }
  }

  stop(): void {
    this.stopping.abort();
    clearTimeout(this.timer);
    this.timer = undefined;
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  /**
   * Resolves once the heartbeat in flight, if any, has finished (it never fails): a registration again or a token
   * renewal in it has then replaced the worker token.
   */
  settled(): Promise<void> {
    return this.beating;
  }

  private schedule(): void {
    if (this.stopping.signal.aborted || !this.current) return;
    this.timer = setTimeout(() => {
      this.beating = this.beat();
      void this.beating.finally(() => this.schedule());
    }, this.current.heartbeat_seconds * 1000);
  }

  private async beat(): Promise<void> {
    const current = this.current;
    if (!current) return;
    try {
      const due = refreshDueAt(current.worker_token);
      if (due !== undefined && Date.now() >= due) {
        const renewal = await this.refreshToken(current, 'half its life over');
        // A renewal that did not happen leaves a token good for the other half of its life: keep beating with it.
        if (renewal === 'moved on') return;
      }
      const reply = await this.post(
        `/v1/internal/nodes/${encodeURIComponent(current.node_id)}/heartbeat`,
        { incarnation: current.incarnation },
        this.current?.worker_token ?? current.worker_token,
      );
      if (reply.status === 200) {
        if (this.failing) this.options.log('heartbeat: API reachable again');
        this.failing = false;
      } else if (reply.status === 401) {
        this.options.log(`heartbeat: worker token refused (${errorCode(reply.body)}); asking for a new one`);
        if ((await this.refreshToken(current, 'refused')) === 'refused') {
          // Neither token nor secret is taken: only a restart, reading the current secret, brings the node back.
          this.stop();
          this.options.onFatal('the worker token expired and the API refused to renew it with this bootstrap secret');
        }
      } else if (reply.status === 404) {
        this.options.log(`heartbeat: node unknown to the API (${errorCode(reply.body)}); registering again`);
        await this.reregister(current);
      } else if (reply.status === 409) {
        this.superseded(current, reply.body);
      } else {
        this.fail(`HTTP ${reply.status} ${errorCode(reply.body)}`);
      }
    } catch (error) {
      // Network trouble: keep beating; the lease on running work is Temporal's, not this loop's.
      if (!this.stopping.signal.aborted) this.fail(error instanceof Error ? error.message : String(error));
    }
  }

  /**
   * A new worker token for the same incarnation, with the bootstrap secret (the old token may be refused
   * already). Renewed: the node carries on under its incarnation. Moved on: a 404 registered it again, or a 409
   * stopped it. Failed: no answer, or one that may change (5xx, 429). Refused: any other answer, which asking again
   * will not change (the secret is no longer the API's).
   */
  private async refreshToken(current: RegisterNodeResponse, why: string): Promise<'renewed' | 'moved on' | 'failed' | 'refused'> {
    let reply: Reply;
    try {
      reply = await this.post(
        `/v1/internal/nodes/${encodeURIComponent(current.node_id)}/token`,
        { incarnation: current.incarnation },
        this.options.bootstrapSecret,
      );
    } catch (error) {
      this.fail(`token renewal: ${error instanceof Error ? error.message : String(error)}`);
      return 'failed';
    }
    if (reply.status === 200) {
      const fresh = reply.body as WorkerTokenResponse;
      this.current = { ...current, worker_token: fresh.worker_token };
      this.options.log(`worker token renewed for incarnation ${current.incarnation} (${why})`);
      return 'renewed';
    }
    if (reply.status === 404) {
      this.options.log(`token renewal: node unknown to the API (${errorCode(reply.body)}); registering again`);
      await this.reregister(current);
      return 'moved on';
    }
    if (reply.status === 409) {
      this.superseded(current, reply.body);
      return 'moved on';
    }
    this.fail(`token renewal: HTTP ${reply.status} ${errorCode(reply.body)}`);
    return retryable(reply.status) ? 'failed' : 'refused';
  }

  private superseded(current: RegisterNodeResponse, body: unknown): void {
    this.stop();
    this.options.onFatal(`incarnation ${current.incarnation} superseded (${errorCode(body)})`);
  }

  private async reregister(previous: RegisterNodeResponse): Promise<void> {
    const reply = await this.post('/v1/internal/nodes/register', this.options.request, this.options.bootstrapSecret);
    if (reply.status !== 200) {
      const problem = `re-register: HTTP ${reply.status} ${errorCode(reply.body)}`;
      if (retryable(reply.status)) {
        this.fail(problem);
        return;
      }
      // Refused for good, as a first registration would be: a restart reads the current secret and settings.
      this.stop();
      this.options.onFatal(problem);
      return;
    }
    const next = reply.body as RegisterNodeResponse;
    if (next.task_queue !== previous.task_queue) {
      // The Temporal worker polls the old queue; a restart is the simple, correct way to move.
      this.stop();
      this.options.onFatal(`task queue changed from ${previous.task_queue} to ${next.task_queue}`);
      return;
    }
    this.current = next;
    this.failing = false;
    this.options.log(`registered again as incarnation ${next.incarnation}`);
  }

  private fail(problem: string): void {
    // One line when trouble starts, not one per beat.
    if (!this.failing) this.options.log(`heartbeat failing: ${problem}`);
    this.failing = true;
  }

  /**
   * One JSON POST to the node's APIs, each in turn from the preferred one until one answers other than `unavailable`;
   * the last one's answer, or its error, when none does. Each gets requestTimeoutMs; `stopping` (the node stopping,
   * by default) ends the whole call.
   */
  private async post(path: string, body: unknown, bearer: string, stopping: AbortSignal | null = this.stopping.signal): Promise<Reply> {
    const timeoutMs = this.options.requestTimeoutMs ?? 5000;
    const preferred = this.options.api.preferred;
    const apis = this.options.api.inTurn();
    let last: { reply: Reply } | { error: unknown } | undefined;
    const problems: string[] = [];
    for (const base of apis) {
      const timeout = AbortSignal.timeout(timeoutMs);
      try {
        const reply = await this.postTo(base, path, body, bearer, stopping ? AbortSignal.any([stopping, timeout]) : timeout);
        if (!unavailable(reply.status)) {
          if (base !== preferred) this.options.log(`API ${base} answered where ${preferred} did not (${problemOf(last)}): calls go there now`);
          this.options.api.answered(base);
          return reply;
        }
        last = { reply };
      } catch (error) {
        if (stopping?.aborted) throw error;
        last = { error };
      }
      problems.push(`${base}: ${problemOf(last)}`);
      this.options.api.failed(base);
    }
    if (last && 'reply' in last) return last.reply;
    // Every API's problem, not only the last one's: the first may be down for another reason.
    throw apis.length > 1 ? new Error(`no API answered (${problems.join('; ')})`) : last?.error;
  }

  /**
   * One JSON POST to the API at `base` over a kept-alive connection. node:http rather than fetch: the start report is
   * one request per attempt, and fetch's streams cost a node about three times the CPU of the request itself (issue
   * #11's profiles).
   */
  private postTo(base: string, path: string, body: unknown, bearer: string, signal: AbortSignal): Promise<Reply> {
    const payload = JSON.stringify(body);
    const url = new URL(`${base}${path}`);
    const secure = url.protocol === 'https:';
    return new Promise<Reply>((resolve, reject) => {
      const request = (secure ? httpsRequest : httpRequest)(
        url,
        {
          method: 'POST',
          agent: secure ? this.httpsAgent : this.httpAgent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), authorization: `Bearer ${bearer}` },
          signal,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text === '' ? null : JSON.parse(text);
            } catch {
              // Not JSON (a proxy's error page): keep the text for the log.
            }
            resolve({ status: response.statusCode ?? 0, body: parsed });
          });
        },
      );
      request.on('error', reject);
      request.end(payload);
    });
  }

  private pause(ms: number): Promise<void> {
    const signal = this.stopping.signal;
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
