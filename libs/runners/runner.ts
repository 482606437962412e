/** Thrown by Runner.validate: the params cannot run, anywhere. */
export class InvalidParamsError extends Error {
  constructor(
    message: string,
    readonly details: { field: string; problem: string }[] = [],
  ) {
    super(message);
  }
}

/**
 * Thrown by an ArtifactReader (and the node's result upload) when the API no longer holds the assignment live on
 * this node incarnation: the attempt was fenced off, and the job goes back to be placed again.
 */
export class AssignmentNotLiveError extends Error {}

/** What a runner gets from the node while it runs one assignment. */
export interface RunContext {
  jobId: string;
  attempt: number;
  /** GPU ids the ledger reserved for this assignment (empty for CPU jobs). */
  gpuIds: number[];
  /**
   * Records progress as heartbeat details, which the node's beat sends every second with the lease's heartbeat; the
   * lease expires when the beats stop.
   */
  heartbeat(details?: unknown): void;
  /** Aborted when the job is cancelled or the node shuts down. */
  signal: AbortSignal;
  /** Sleeps (the node's beat keeps the lease meanwhile); rejects promptly on cancellation. */
  sleep(ms: number): Promise<void>;
  /** Reads the artifacts this job's params reference. */
  artifacts: ArtifactReader;
}

/** A task type as the API knows it: its params check, pure, never loading a model. */
export interface TaskSpec<P = unknown> {
  readonly taskType: string;
  readonly description: string;
  validate(params: unknown): P;
}

/** A task type on a node: validates its params (also at submission, in the API) and runs them. */
export interface Runner<P = unknown, R = unknown> extends TaskSpec<P> {
  run(params: P, context: RunContext): Promise<R>;
}

/** A node-local copy of an artifact the running job references, fetched through the API and cached by sha256. */
export interface LocalArtifact {
  id: string;
  /** Read-only file in the node's artifact cache. */
  path: string;
  sha256: string;
  sizeBytes: number;
  contentType: string;
}

/** How a runner reads the artifacts its params reference (`artifact://<id>`); only its own job's, only while its assignment is live. */
export interface ArtifactReader {
  open(ref: string, signal?: AbortSignal): Promise<LocalArtifact>;
}
