import { findArtifactRefs } from '@mlis/contracts';
import { recordOpenParams } from './params-schema';
import { InvalidParamsError, type RunContext, type Runner } from './runner';

export type EchoParams = Record<string, unknown>;

/** What the node found behind one `artifact://` reference: the bytes it fetched and verified. */
export interface EchoedArtifact {
  sha256: string;
  size_bytes: number;
  content_type: string;
}

export interface EchoResult {
  /** The params exactly as the node received them. */
  params: EchoParams;
  /** Every artifact the params reference, by reference, as read on the node. */
  artifacts: Record<string, EchoedArtifact>;
}

/**
 * `echo`: returns its params and what the node read for each artifact they reference. A check of the path a
 * job's payloads take (params and results above the inline threshold travel as artifacts, inputs are fetched
 * into the node's cache) without running a model.
 */
export const echoRunner: Runner<EchoParams, EchoResult> = {
  taskType: 'echo',
  description: 'Returns its params, and the sha256, size and content type of every artifact:// they reference as read on the node.',

  validate(params: unknown): EchoParams {
    recordOpenParams();
    const value = params === undefined ? {} : params;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new InvalidParamsError('echo: params must be an object', [{ field: 'params', problem: 'must be an object' }]);
    }
    return value as EchoParams;
  },

  async run(params: EchoParams, context: RunContext): Promise<EchoResult> {
    const artifacts: Record<string, EchoedArtifact> = {};
    for (const { ref } of findArtifactRefs(params)) {
      if (ref in artifacts) continue;
      const local = await context.artifacts.open(ref, context.signal);
      artifacts[ref] = { sha256: local.sha256, size_bytes: local.sizeBytes, content_type: local.contentType };
      context.heartbeat({ read: Object.keys(artifacts).length });
    }
    return { params, artifacts };
  },
};
