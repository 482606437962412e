import { InitialLedger1764190000000 } from './1764190000000-initial-ledger';
import { AuditAndLimits1764200000000 } from './1764200000000-audit-and-limits';
import { Scheduling1764300000000 } from './1764300000000-scheduling';
import { NodeChangeTracking1764400000000 } from './1764400000000-node-change-tracking';
import { TenantGroupLimits1764500000000 } from './1764500000000-tenant-group-limits';
import { Artifacts1764600000000 } from './1764600000000-artifacts';
import { JobArtifactReferences1764700000000 } from './1764700000000-job-artifact-references';
import { TenantArtifactCap1764750000000 } from './1764750000000-tenant-artifact-cap';
import { AssignmentProcess1764900000000 } from './1764900000000-assignment-process';
import { EndAttemptFunction1765000000000 } from './1765000000000-end-attempt-function';
import { EndAttemptRunTime1765100000000 } from './1765100000000-end-attempt-run-time';
import { PendingUploads1765200000000 } from './1765200000000-pending-uploads';
import { ArtifactIdempotencyKeys1765300000000 } from './1765300000000-artifact-idempotency-keys';
import { BlockedJobsIndex1765400000000 } from './1765400000000-blocked-jobs-index';
import { StreamTickets1765500000000 } from './1765500000000-stream-tickets';
import { DeadNodeRetention1765600000000 } from './1765600000000-dead-node-retention';
import { NodeLeftAt1765700000000 } from './1765700000000-node-left-at';
import { JobOverviewIndexes1765800000000 } from './1765800000000-job-overview-indexes';
import { AuditExportOrder1765900000000 } from './1765900000000-audit-export-order';
import { JobParamsSha2561766000000000 } from './1766000000000-job-params-sha256';
import { JobRetention1766100000000 } from './1766100000000-job-retention';
import { JobOutcomeTotals1766200000000 } from './1766200000000-job-outcome-totals';
import { TokenRevocations1766300000000 } from './1766300000000-token-revocations';
import { StreamTicketTokenIssuedAt1766400000000 } from './1766400000000-stream-ticket-token-issued-at';
import { JobsByStateNewest1766500000000 } from './1766500000000-jobs-by-state-newest';
import { AuditRetention1766600000000 } from './1766600000000-audit-retention';
import { AuditOccurrences1766700000000 } from './1766700000000-audit-occurrences';
import { NodeGoneAt1766800000000 } from './1766800000000-node-gone-at';
import { JobListFilterIndexes1766900000000 } from './1766900000000-job-list-filter-indexes';
import { JobFinishedNoticeAfterCommit1767000000000 } from './1767000000000-job-finished-notice-after-commit';
import { PendingUploadsByContent1767100000000 } from './1767100000000-pending-uploads-by-content';
import { ApiInstances1767200000000 } from './1767200000000-api-instances';
import { DownloadTickets1767300000000 } from './1767300000000-download-tickets';
import { ArtifactChanges1767400000000 } from './1767400000000-artifact-changes';

/** Every migration, oldest first. Append only: never edit one that has landed. */
export const MIGRATIONS = [
  InitialLedger1764190000000,
  AuditAndLimits1764200000000,
  Scheduling1764300000000,
  NodeChangeTracking1764400000000,
  TenantGroupLimits1764500000000,
  Artifacts1764600000000,
  JobArtifactReferences1764700000000,
  TenantArtifactCap1764750000000,
  AssignmentProcess1764900000000,
  EndAttemptFunction1765000000000,
  EndAttemptRunTime1765100000000,
  PendingUploads1765200000000,
  ArtifactIdempotencyKeys1765300000000,
  BlockedJobsIndex1765400000000,
  StreamTickets1765500000000,
  DeadNodeRetention1765600000000,
  NodeLeftAt1765700000000,
  JobOverviewIndexes1765800000000,
  AuditExportOrder1765900000000,
  JobParamsSha2561766000000000,
  JobRetention1766100000000,
  JobOutcomeTotals1766200000000,
  TokenRevocations1766300000000,
  StreamTicketTokenIssuedAt1766400000000,
  JobsByStateNewest1766500000000,
  AuditRetention1766600000000,
  AuditOccurrences1766700000000,
  NodeGoneAt1766800000000,
  JobListFilterIndexes1766900000000,
  JobFinishedNoticeAfterCommit1767000000000,
  PendingUploadsByContent1767100000000,
  ApiInstances1767200000000,
  DownloadTickets1767300000000,
  ArtifactChanges1767400000000,
];
