import type { Request } from 'express';

/** The one route whose request body is the artifact's raw bytes, streamed by its controller. */
export function isArtifactUpload(req: Request): boolean {
  return req.method === 'POST' && /^\/v1\/artifacts\/?$/i.test(req.path);
}
