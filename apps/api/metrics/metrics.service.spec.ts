import { loadConfig } from '@mlis/config';
import { observeAdmissionWait } from '@mlis/metrics';
import { fakeMetricsRepository } from '../testing/fakes';
import { MetricsService } from './metrics.service';

function serviceWith(tenantLabel: string, topTenants: string[]): MetricsService {
  return new MetricsService(fakeMetricsRepository(topTenants), loadConfig({ MLIS_METRICS_TENANT_LABEL: tenantLabel }), null);
}

const submissionLines = (text: string) => text.split('\n').filter((line) => line.startsWith('mlis_job_submissions_total{'));

describe('mlis_job_submissions_total', () => {
  it('carries no tenant label by default', async () => {
    const metrics = serviceWith('off', []);
    metrics.recordSubmission('accepted', 'none', 'acme');
    metrics.recordSubmission('refused', 'rate_limited', 'acme');
    metrics.recordSubmission('refused', 'rate_limited', undefined);
    expect(submissionLines(await metrics.render())).toEqual([
      'mlis_job_submissions_total{outcome="accepted",reason="none"} 1',
      'mlis_job_submissions_total{outcome="refused",reason="rate_limited"} 2',
    ]);
  });

  it('with top:N names only the tenants the last scrape ranked, every other caller as "other"', async () => {
    const metrics = serviceWith('top:1', ['acme']);
    // Before the first scrape no tenant is ranked yet.
    metrics.recordSubmission('accepted', 'none', 'acme');
    await metrics.render();
    metrics.recordSubmission('accepted', 'none', 'acme');
    metrics.recordSubmission('refused', 'quota_exceeded', 'globex');
    metrics.recordSubmission('refused', 'unauthorized', undefined);
    expect(submissionLines(await metrics.render())).toEqual([
      'mlis_job_submissions_total{outcome="accepted",reason="none",tenant="other"} 1',
      'mlis_job_submissions_total{outcome="accepted",reason="none",tenant="acme"} 1',
      'mlis_job_submissions_total{outcome="refused",reason="quota_exceeded",tenant="other"} 1',
      'mlis_job_submissions_total{outcome="refused",reason="unauthorized",tenant="other"} 1',
    ]);
  });

  it('serves admission wait by tenant only with top:N, naming the tenants the last scrape ranked', async () => {
    expect(await serviceWith('off', []).render()).not.toContain('mlis_tenant_admission_wait_seconds');
    const metrics = serviceWith('top:1', ['acme']);
    await metrics.render();
    observeAdmissionWait('cpu', 'acme', 2);
    observeAdmissionWait('cpu', 'globex', 2);
    const counts = (await metrics.render()).split('\n').filter((line) => line.startsWith('mlis_tenant_admission_wait_seconds_count'));
    expect(counts).toEqual(['mlis_tenant_admission_wait_seconds_count{tenant="acme"} 1', 'mlis_tenant_admission_wait_seconds_count{tenant="other"} 1']);
  });
});

describe('the Temporal SDK\'s worker metrics (ADR 0052)', () => {
  it('follow the process\'s own and the ledger\'s, with what the job workflows\' ledger activities record', async () => {
    const sdk = '# TYPE temporal_workflow_task_schedule_to_start_latency_seconds histogram\n';
    const text = await new MetricsService(fakeMetricsRepository([]), loadConfig({}), () => Promise.resolve(sdk)).render();
    expect(text.endsWith(`\n${sdk}`)).toBe(true);
    expect(text).toContain('# TYPE mlis_jobs gauge');
    expect(text).toContain('# TYPE mlis_run_duration_seconds histogram');
  });

  it('are absent, and so are the ledger activities\' metrics, from an API that runs no job workflows', async () => {
    const text = await new MetricsService(fakeMetricsRepository([]), loadConfig({ MLIS_API_JOB_WORKFLOWS: 'false' }), null).render();
    expect(text).not.toContain('temporal_');
    expect(text).not.toContain('mlis_run_duration_seconds');
    expect(text).toContain('# TYPE mlis_admission_wait_seconds histogram');
  });
});
