import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { components, paths } from '@mlis/api-client';
import { ApiClient, type Operation, type RouteParts, type RouteWith, type SuccessBody } from './api-client';
import type * as Wire from './api-types';

// The CLI speaks the generated contract (libs/api-client, drift-checked against the served document by
// apps/api/openapi.spec.ts). The type checks below fail `npm run typecheck` when a CLI type stops being the
// generated one; the HTTP checks fail when a request the CLI sends is not a route, method, query parameter or
// header of that document.

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Schemas = components['schemas'];

interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
}
interface OpenApiDocument {
  paths: Record<string, Record<string, { parameters?: OpenApiParameter[] }>>;
}

const document = JSON.parse(readFileSync(join(__dirname, '../../libs/api-client/openapi.json'), 'utf8')) as OpenApiDocument;

/** The documented operation a request (method and URL) is, or undefined. */
function operationOf(method: string, url: string): { route: string; parameters: OpenApiParameter[] } | undefined {
  const { pathname } = new URL(url, 'http://cli.test');
  for (const [route, methods] of Object.entries(document.paths)) {
    const pattern = new RegExp(`^${route.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    const operation = methods[method.toLowerCase()];
    if (pattern.test(pathname) && operation) return { route, parameters: operation.parameters ?? [] };
  }
  return undefined;
}

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

describe('the CLI and the generated API contract', () => {
  it('uses the generated types, not copies of them', () => {
    const same: [
      Equal<Wire.Job, Schemas['JobResponseDto']>,
      Equal<Wire.Assignment, Schemas['AssignmentResponseDto']>,
      Equal<Wire.JobPage, Schemas['JobListResponseDto']>,
      Equal<Wire.WorkerNode, Schemas['NodeResponseDto']>,
      Equal<Wire.WorkerGroup, Schemas['WorkerGroupResponseDto']>,
      Equal<Wire.CreateJobRequest, Schemas['CreateJobDto']>,
      Equal<Wire.Tenant, Schemas['TenantResponseDto']>,
      Equal<Wire.UpdateTenantRequest, Schemas['UpdateTenantDto']>,
      Equal<Wire.Artifact, Schemas['ArtifactResponseDto']>,
      Equal<Wire.AuditEvent, Schemas['AuditEventDto']>,
      Equal<Wire.ApiErrorDetail, Schemas['ErrorDetailDto']>,
      Equal<Wire.AuditQuery, NonNullable<paths['/v1/audit']['get']['parameters']['query']>>,
      // A route's answer is what the document says it answers.
      Equal<SuccessBody<Operation<'/v1/jobs/{id}', 'get'>>, Schemas['JobResponseDto']>,
      Equal<SuccessBody<Operation<'/v1/tenants', 'post'>>, Schemas['TenantResponseDto']>,
      Equal<SuccessBody<Operation<'/v1/workers/{id}/drain', 'post'>>, Schemas['NodeResponseDto']>,
    ] = [true, true, true, true, true, true, true, true, true, true, true, true, true, true, true];
    expect(same.every((check) => check)).toBe(true);

    // A route that takes an id needs it, an undocumented query parameter or method is refused.
    // @ts-expect-error path parameters are required
    const missingId: RouteParts<Operation<'/v1/jobs/{id}', 'get'>> = {};
    // @ts-expect-error not a query parameter of GET /v1/jobs
    const unknownQuery: RouteParts<Operation<'/v1/jobs', 'get'>> = { query: { colour: 'red' } };
    // @ts-expect-error GET /v1/jobs/{id} is not answered with PATCH
    const wrongMethod: RouteWith<'patch'> = '/v1/jobs/{id}';
    expect([missingId, unknownQuery, wrongMethod]).toHaveLength(3);
  });

  describe('every request the client sends', () => {
    let server: Server;
    let client: ApiClient;
    const recorded: Recorded[] = [];

    beforeAll(async () => {
      server = createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          recorded.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
          if (req.method === 'DELETE') {
            res.writeHead(204).end();
            return;
          }
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ items: [], next_cursor: null }));
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      client = new ApiClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 't' });
    });

    afterAll(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('is a route, method, query parameter and header of the served document', async () => {
      const id = '0d4b8a52-1111-4000-8000-000000000001';
      await client.createJob({ task_type: 'sleep', params: { seconds: 1 } }, 'key-1');
      await client.getJob(id);
      await client.listJobs({ limit: 2, state: 'QUEUED', cursor: 'c' });
      await client.listJobs({ task_type: 't', worker_group: 'g', node: 'n', submitted_by: 's', created_after: '2026-01-01T00:00:00Z', created_before: '2026-01-02T00:00:00Z', tenant: 'x' });
      await client.cancelJob(id);
      await client.listWorkers();
      await client.listWorkerGroups();
      await client.setDraining('cpu-1', true);
      await client.setDraining('cpu-1', false);
      await client.listTenants();
      await client.createTenant({ id: 'team-a', max_gpus: 2 });
      await client.updateTenant('team-a', { max_gpus: null });
      await client.listAudit({ action: 'job.submit', result: 'deny', since: '2026-01-01T00:00:00Z', limit: 5 });
      await client.whoami();
      (await client.jobResult(id)).resume();
      const bytes = Buffer.from('hello');
      await client.uploadArtifact(() => Readable.from([bytes]), { name: 'a.txt', contentType: 'text/plain', sha256: 'ab'.repeat(32), sizeBytes: bytes.length, expiresInSeconds: 60 });
      (await client.downloadArtifact(id)).body.resume();
      await client.listArtifacts({ limit: 3, cursor: 'c' });
      await client.deleteArtifact(id);

      expect(recorded).toHaveLength(19);
      for (const request of recorded) {
        const operation = operationOf(request.method, request.url);
        expect({ request: `${request.method} ${request.url}`, documented: operation !== undefined }).toEqual({ request: `${request.method} ${request.url}`, documented: true });
        const documented = (where: OpenApiParameter['in']): string[] => operation!.parameters.filter((p) => p.in === where).map((p) => p.name.toLowerCase());
        const query = [...new URL(request.url, 'http://cli.test').searchParams.keys()];
        expect(query.filter((name) => !documented('query').includes(name))).toEqual([]);
        const ownHeaders = Object.keys(request.headers).filter((name) => name.startsWith('x-') || name === 'idempotency-key');
        expect(ownHeaders.filter((name) => !documented('header').includes(name))).toEqual([]);
      }
      // The parameters the CLI fills in arrive where the document puts them.
      expect(recorded[0].headers['idempotency-key']).toBe('key-1');
      expect(recorded.map((r) => operationOf(r.method, r.url)!.route)).toEqual([
        '/v1/jobs',
        '/v1/jobs/{id}',
        '/v1/jobs',
        '/v1/jobs',
        '/v1/jobs/{id}/cancel',
        '/v1/workers',
        '/v1/worker-groups',
        '/v1/workers/{id}/drain',
        '/v1/workers/{id}/undrain',
        '/v1/tenants',
        '/v1/tenants',
        '/v1/tenants/{id}',
        '/v1/audit',
        '/v1/auth/whoami',
        '/v1/jobs/{id}/result',
        '/v1/artifacts',
        '/v1/artifacts/{id}',
        '/v1/artifacts',
        '/v1/artifacts/{id}',
      ]);
    });
  });
});
