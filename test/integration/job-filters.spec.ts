import { api, submit, TERMINAL, tokenFor, waitForJob } from './support/api';

describe('job list filters on the real ledger', () => {
  jest.setTimeout(60_000);

  it('narrows by task type, group, node, submitter and time, each alone and together', async () => {
    const token = tokenFor({ sub: 'filter-user' });
    const auth = { authorization: `Bearer ${token}` };
    const before = new Date(Date.now() - 1000).toISOString();
    const accepted = await submit({ task_type: 'sleep', params: { seconds: 0.2 }, cpu: 1, mem_mb: 256, gpu: 0, worker_group: 'cpu' }, auth);
    const job = await waitForJob(accepted.id, (j) => TERMINAL.includes(j.state));
    const node = job.latest_assignment.node_id as string;
    const otherNode = node === 'cpu-1' ? 'cpu-2' : 'cpu-1';
    const ids = async (query: string) => ((await api('GET', `/v1/jobs?limit=100&${query}`, undefined, auth)).body.items as { id: string }[]).map((j) => j.id);

    const all = `task_type=sleep&worker_group=cpu&node=${node}&submitted_by=filter-user&created_after=${encodeURIComponent(before)}`;
    expect(await ids(all)).toEqual([job.id]);
    expect(await ids(`node=${node}`)).toContain(job.id);
    expect(await ids(`node=${otherNode}&submitted_by=filter-user`)).toEqual([]);
    expect(await ids('task_type=gpu_demo&submitted_by=filter-user')).toEqual([]);
    expect(await ids('worker_group=gpu&submitted_by=filter-user')).toEqual([]);
    expect(await ids(`submitted_by=filter-user&created_before=${encodeURIComponent(before)}`)).toEqual([]);
    const bad = await api('GET', '/v1/jobs?created_after=soon', undefined, auth);
    expect([bad.status, bad.body.error.code]).toEqual([400, 'validation_failed']);
  });
});
