import { ApiError, apiErrorOf, endSession, type Artifact } from '../api/client';
import { readToken } from './session';

export interface UploadProgress {
  sent: number;
  total: number;
}

/** The user cancelled an upload before the API answered it; the API keeps nothing of a body that broke off. */
export class UploadCancelledError extends Error {
  override name = 'UploadCancelledError';
}

/**
 * Uploads a file as an artifact (POST /v1/artifacts), reporting how much of it has gone out. Through XMLHttpRequest,
 * not the typed client: `fetch` says nothing of a request body's progress, and cannot stream one over HTTP/1.1
 * (ADR 0064). The browser streams the File from disk; the page holds none of it. `signal` cancels the upload.
 */
export function uploadArtifact(file: File, onProgress: (progress: UploadProgress) => void, signal: AbortSignal): Promise<Artifact> {
  return new Promise<Artifact>((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', `/v1/artifacts?${new URLSearchParams({ name: file.name })}`);
    request.responseType = 'json';
    request.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    const token = readToken();
    if (token) request.setRequestHeader('Authorization', `Bearer ${token}`);
    request.upload.onprogress = (event) => onProgress({ sent: event.loaded, total: event.lengthComputable ? event.total : file.size });
    request.onload = () => {
      if (request.status >= 200 && request.status < 300) {
        resolve(request.response as Artifact);
        return;
      }
      if (request.status === 401) endSession();
      reject(apiErrorOf(request.status, request.response, request.getResponseHeader('x-request-id')));
    };
    request.onerror = () => reject(new ApiError(0, 'unreachable', 'The API could not be reached, or the connection broke off during the upload'));
    request.onabort = () => reject(new UploadCancelledError('upload cancelled'));
    if (signal.aborted) {
      reject(new UploadCancelledError('upload cancelled'));
      return;
    }
    signal.addEventListener('abort', () => request.abort(), { once: true });
    request.send(file);
  });
}
