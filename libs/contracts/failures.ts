/** Type codes carried by ApplicationFailure; tests and the workflow branch on these, never on messages. */
export enum FailureCode {
  /** The runner rejected or failed the work; retrying elsewhere would fail the same way. */
  RunnerError = 'RunnerError',
  /** Params did not pass the runner's validation on the node. */
  InvalidParams = 'InvalidParams',
  /** The node has no runner for the task type. */
  UnknownTaskType = 'UnknownTaskType',
  /** The job row does not exist: the submission transaction never committed. */
  JobNotFound = 'JobNotFound',
  /** The node is shutting down and handed the attempt back: the job is placed elsewhere, like a lost lease. */
  NodeShutdown = 'NodeShutdown',
  /**
   * The API refused the attempt's artifact reads or writes because the ledger no longer holds the assignment live
   * on the node's incarnation (the node was fenced off, or registered again meanwhile): the job is placed again,
   * like a lost lease.
   */
  AssignmentNotLive = 'AssignmentNotLive',
}

/** Error codes of the HTTP API's `{error: {code}}` body. */
export enum ApiErrorCode {
  ValidationFailed = 'validation_failed',
  MalformedJson = 'malformed_json',
  UnknownTaskType = 'unknown_task_type',
  InvalidParams = 'invalid_params',
  Unschedulable = 'unschedulable',
  JobNotFound = 'job_not_found',
  NodeNotFound = 'node_not_found',
  UnknownWorkerGroup = 'unknown_worker_group',
  /** A submission's priority_class that this deployment does not configure (MLIS_PRIORITY_CLASSES). */
  UnknownPriorityClass = 'unknown_priority_class',
  JobAlreadyFinished = 'job_already_finished',
  /** A heartbeat from an older incarnation of a node that registered again: that process must exit. */
  NodeSuperseded = 'node_superseded',
  /** A node's report on an assignment that is not PLACED on that node incarnation (started already, ended, or placed elsewhere). */
  AssignmentNotPlaced = 'assignment_not_placed',
  /**
   * A node's artifact read or write for an assignment that is not live (PLACED or RUNNING) on that node incarnation:
   * the attempt was fenced off. Only a node gets it, and only of the assignment it named.
   */
  AssignmentNotLive = 'assignment_not_live',
  /** Drain or undrain of a node that is DEAD: it must register again first. */
  NodeDead = 'node_dead',
  IdempotencyConflict = 'idempotency_conflict',
  PayloadTooLarge = 'payload_too_large',
  /** The request body stopped arriving: no byte for MLIS_API_BODY_IDLE_SECONDS while the API was reading it. */
  RequestTimeout = 'request_timeout',
  NotFound = 'not_found',
  /** A path the API serves, with a method it does not declare there; the Allow header lists those it does. */
  MethodNotAllowed = 'method_not_allowed',
  DependencyUnavailable = 'dependency_unavailable',
  /** The artifact store is full: nothing of the upload (or of the params it would have offloaded) was kept. */
  InsufficientStorage = 'insufficient_storage',
  /**
   * An upload (or a submission's offloaded params) stalled between storing its bytes and recording its row for longer
   * than retention waits for an unfinished upload, which cleaned it up: nothing was kept, and the same request may be
   * sent again at once.
   */
  UploadAbandoned = 'upload_abandoned',
  Internal = 'internal_error',
  /** Node registration without the right bootstrap secret. */
  InvalidBootstrapCredential = 'invalid_bootstrap_credential',
  /** No valid token for this route (missing, malformed, bad signature, wrong kind, expired ...). */
  Unauthorized = 'unauthorized',
  /** A valid token without the scope or binding this route needs. */
  Forbidden = 'forbidden',
  /** The tenant's submission rate is used up; Retry-After says when a token is back. */
  RateLimited = 'rate_limited',
  /** The tenant already has max_queued_jobs jobs waiting. */
  QuotaExceeded = 'quota_exceeded',
  TenantNotFound = 'tenant_not_found',
  TenantExists = 'tenant_exists',
  /**
   * No such artifact, or one the caller may not see (another tenant's, another job's for a worker); 422 for an
   * `artifact://` reference in a job's params.
   */
  ArtifactNotFound = 'artifact_not_found',
  /** The uploaded bytes do not hash to the `sha256` the caller gave; nothing was kept. */
  ChecksumMismatch = 'checksum_mismatch',
  /** A QUEUED or RUNNING job references the artifact. */
  ArtifactInUse = 'artifact_in_use',
  RangeNotSatisfiable = 'range_not_satisfiable',
  /** GET /v1/jobs/:id/result of a job that has not SUCCEEDED (yet): there is no result to give. */
  ResultNotAvailable = 'result_not_available',
}
