import { request as httpRequest, type Agent } from 'node:http';

/** A JSON-over-HTTP caller with a bearer token for the benchmarks; a non-2xx answer rejects with its body. */
export function jsonClient<T>(apiUrl: string, token: string, agent: Agent | false) {
  return (method: string, path: string, body?: unknown): Promise<T> =>
    new Promise((resolvePromise, reject) => {
      const request = httpRequest(`${apiUrl}${path}`, { method, agent, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          if ((response.statusCode ?? 500) >= 300) reject(new Error(`${method} ${path}: ${response.statusCode} ${text}`));
          else resolvePromise(JSON.parse(text) as T);
        });
      });
      request.on('error', reject);
      request.end(body === undefined ? undefined : JSON.stringify(body));
    });
}
