import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BLOCKED_REASONS } from './cycle-input';

describe('BLOCKED_REASONS', () => {
  it('are the reasons the partial index of blocked jobs covers, so the lane read of them uses it', () => {
    const migration = readFileSync(join(__dirname, '../migrations/1765400000000-blocked-jobs-index.ts'), 'utf8');
    const indexed = /pending_reason IN \(([^)]*)\)/.exec(migration)![1].split(',').map((reason) => reason.trim().replace(/'/g, ''));
    expect([...indexed].sort()).toEqual([...BLOCKED_REASONS].sort());
  });
});
