import { DfError } from '@dragonflow/base';
import { describe, expect, it } from 'vitest';
import { describeDb, describeDbError, type DbSection } from './open.js';

const redis = { driver: 'redis', endpoints: ['redis://admin:s3cret@10.0.0.5:6379/0'], prefix: null } as DbSection;

describe('DB endpoints shown in logs and /healthz', () => {
  it('describeDb (logs, /healthz) carries no credentials', () => {
    expect(describeDb(redis)).toBe('redis at redis://10.0.0.5:6379/0');
    expect(describeDb(redis)).not.toContain('s3cret');
  });

  it('a driver error quoting the URL (as given or as parsed) loses its credentials', () => {
    const err = new DfError('NB_UNAVAILABLE', 'cannot reach redis://admin:s3cret@10.0.0.5:6379/0 (also tried redis://admin:s3cret@10.0.0.5:6379/)', { context: { url: 'redis://admin:s3cret@10.0.0.5:6379/0' } });
    const text = describeDbError(err, redis);
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain('admin:');
    expect(text).toContain('redis://10.0.0.5:6379/0');
  });
});
