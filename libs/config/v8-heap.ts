import { setFlagsFromString } from 'node:v8';

/** The V8 flag that brings back Node 20's collection of short-lived Buffers (ADR 0057). */
const EXTERNAL_MEMORY_IN_GLOBAL_LIMIT = '--external-memory-accounted-in-global-limit';

/**
 * For the processes that stream artifact bytes (the API, the nodes); call first thing. Since V8 13.6 (Node 24) a Buffer
 * that dies young is reclaimed by a full mark-compact instead of a scavenge once 64 MB of them were allocated since the
 * last collection (nodejs/node#61967): on Node 26 the API spent about half of a transfer marking its whole heap, and
 * moved artifacts 35-45 % slower than on Node 20. Counting external memory in the heap's global limit, which V8 has
 * since turned on by default upstream, brings the scavenges back. Set at run time, not on the command line: the
 * image, the manifests and the local stack start the same `node dist/...`, and a Node whose V8 no longer knows the
 * flag only prints a line where a command-line flag would stop the process.
 */
export function applyV8HeapFlags(): void {
  setFlagsFromString(EXTERNAL_MEMORY_IN_GLOBAL_LIMIT);
}
