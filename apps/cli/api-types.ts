import type { components, paths } from '@mlis/api-client';

// The CLI's view of the HTTP API contract: names for the types generated from the API's own OpenAPI document
// (libs/api-client/schema.d.ts, `npm run generate:api-client`), never a hand-written copy and never the API's
// DTOs, which drag in Nest and class-validator.

type Schemas = components['schemas'];

export type Assignment = Schemas['AssignmentResponseDto'];
export type Job = Schemas['JobResponseDto'];
export type JobPage = Schemas['JobListResponseDto'];
export type WorkerNode = Schemas['NodeResponseDto'];
export type WorkerList = Schemas['NodeListResponseDto'];
/** A worker group as GET /v1/worker-groups returns it: totals cover its live ACTIVE nodes. */
export type WorkerGroup = Schemas['WorkerGroupResponseDto'];
export type WorkerGroupList = Schemas['WorkerGroupListResponseDto'];
/** Body of POST /v1/jobs: absent fields take the API's defaults. */
export type CreateJobRequest = Schemas['CreateJobDto'];
export type ListJobsQuery = NonNullable<paths['/v1/jobs']['get']['parameters']['query']>;
export type ApiErrorDetail = Schemas['ErrorDetailDto'];
/** GET /v1/auth/whoami: the caller as the API sees it after verifying the token. */
export type Whoami = Schemas['WhoamiResponseDto'];
/** GET /v1/artifacts/{id}/meta, and each item of the list. */
export type Artifact = Schemas['ArtifactResponseDto'];
export type ArtifactPage = Schemas['ArtifactListResponseDto'];
export type ListArtifactsQuery = NonNullable<paths['/v1/artifacts']['get']['parameters']['query']>;
/** A tenant and its limits (null: no limit), as GET /v1/tenants returns it. */
export type Tenant = Schemas['TenantResponseDto'];
export type TenantList = Schemas['TenantListResponseDto'];
/** Body of POST /v1/tenants. */
export type CreateTenantRequest = Schemas['CreateTenantDto'];
/** Body of PATCH /v1/tenants/{id}: absent limits stay as they are, null removes one. */
export type UpdateTenantRequest = Schemas['UpdateTenantDto'];
export type AuditEvent = Schemas['AuditEventDto'];
export type AuditPage = Schemas['AuditPageDto'];
export type AuditQuery = NonNullable<paths['/v1/audit']['get']['parameters']['query']>;
export type AuditExportPage = Schemas['AuditExportPageDto'];
export type TokenRevocation = Schemas['TokenRevocationDto'];
export type TokenRevocationList = Schemas['TokenRevocationListDto'];
/** Body of POST /v1/auth/revocations. */
export type RevokeTokensRequest = Schemas['RevokeTokensDto'];
export type AuditExportQuery = NonNullable<paths['/v1/audit/export']['get']['parameters']['query']>;
