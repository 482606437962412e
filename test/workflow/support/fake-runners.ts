import { ApplicationFailure, Context } from '@temporalio/activity';
import type { createExecutionActivities } from '../../../activities/execution.activities';
import { FailureCode, type RunAssignmentInput } from '@mlis/contracts';

export type RunAssignment = ReturnType<typeof createExecutionActivities>['runAssignment'];

type NodeRun = RunAssignmentInput & { nodeId: string };

/** What the fake runners of one test saw, per node. */
export class RunnerLog {
  readonly started: NodeRun[] = [];
  readonly cancelled: NodeRun[] = [];

  startedOn(nodeId: string): number {
    return this.started.filter((run) => run.nodeId === nodeId).length;
  }
}

/** A fake runAssignment for one node; it knows the node's id so the log can tell nodes apart. */
export type FakeRunner = (nodeId: string, log: RunnerLog) => RunAssignment;

/** Heartbeats once and returns the seed's sleep result at once. */
export const succeeds: FakeRunner = (nodeId, log) => async (input) => {
  log.started.push({ ...input, nodeId });
  Context.current().heartbeat();
  return { result: { slept: input.params.seconds } };
};

/** A node whose result was over the inline threshold: it uploaded it and returns only the artifact's id. */
export function uploadsResult(resultArtifactId: string): FakeRunner {
  return (nodeId, log) => async (input) => {
    log.started.push({ ...input, nodeId });
    Context.current().heartbeat();
    return { resultArtifactId };
  };
}

/**
 * A node that dies mid-run: one heartbeat, then silence. The activity ends only when its worker
 * shuts down at the end of the test (worker shutdown cancels in-flight activities).
 */
export const hangsAfterOneHeartbeat: FakeRunner = (nodeId, log) => async (input) => {
  log.started.push({ ...input, nodeId });
  Context.current().heartbeat();
  return Context.current().cancelled;
};

/** Heartbeats every (real) 100 ms until cancelled, like the sleep runner, and records the cancellation. */
export const heartbeatsUntilCancelled: FakeRunner = (nodeId, log) => async (input) => {
  log.started.push({ ...input, nodeId });
  const context = Context.current();
  try {
    for (;;) {
      context.heartbeat();
      await context.sleep(100);
    }
  } catch (error) {
    if (context.cancellationSignal.aborted) log.cancelled.push({ ...input, nodeId });
    throw error;
  }
};

/**
 * Heartbeats until cancelled, then hands the attempt back as a node shutting down would: the request met the loss of
 * its node (the Java test server never times out an activity whose cancellation was requested, so a dead node's
 * heartbeat timeout cannot be staged; the workflow treats both losses alike).
 */
export const shutsDownWhenCancelled: FakeRunner = (nodeId, log) => async (input) => {
  try {
    return await heartbeatsUntilCancelled(nodeId, log)(input);
  } catch {
    throw ApplicationFailure.create({ type: FailureCode.NodeShutdown, message: 'the node shut down during the attempt', nonRetryable: true });
  }
};

/** Fails the attempt with `error`, as a runner whose work failed (or a node handing the attempt back). */
export function throws(error: Error): FakeRunner {
  return (nodeId, log) => async (input) => {
    log.started.push({ ...input, nodeId });
    Context.current().heartbeat();
    throw error;
  };
}
