import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { ExitCode, type CliContext } from '../cli-context';

export interface ResultOptions {
  /** Write the result to this file instead of stdout. */
  output?: string;
}

/**
 * GET /v1/jobs/:id/result: the job's whole result JSON, whether it was kept inline or as an artifact, streamed to
 * stdout or, with -o, to a file (written aside and renamed, so a failed download never leaves a partial file).
 */
export async function resultCommand(context: CliContext, id: string, options: ResultOptions): Promise<ExitCode> {
  const body = await context.client.jobResult(id);
  if (options.output === undefined) {
    const decoder = new TextDecoder();
    for await (const chunk of body) context.io.stdout(decoder.decode(chunk as Uint8Array, { stream: true }));
    context.io.stdout(`${decoder.decode()}\n`);
    return ExitCode.Ok;
  }
  const partial = `${options.output}.partial`;
  let bytes = 0;
  body.on('data', (chunk: Buffer) => (bytes += chunk.length));
  try {
    await pipeline(body, createWriteStream(partial));
    await rename(partial, options.output);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  if (!context.json) context.err(`wrote ${bytes} bytes to ${options.output}`);
  return ExitCode.Ok;
}
