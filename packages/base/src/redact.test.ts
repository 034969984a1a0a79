import { describe, expect, it } from 'vitest';
import { redactUrl } from './index.js';

describe('redactUrl', () => {
  it('strips user and password from URLs', () => {
    expect(redactUrl('redis://user:s3cret@127.0.0.1:6379/0')).toBe('redis://127.0.0.1:6379/0');
    expect(redactUrl('redis://:s3cret@db.example:6379')).toBe('redis://db.example:6379');
    expect(redactUrl('http://root:pw@10.0.0.1:2379')).toBe('http://10.0.0.1:2379');
    expect(redactUrl('user:pw@10.0.0.1:2379')).toBe('10.0.0.1:2379');
  });

  it('masks secret query parameters', () => {
    expect(redactUrl('redis://127.0.0.1:6379?password=s3cret&db=2')).toBe('redis://127.0.0.1:6379?password=***&db=2');
    expect(redactUrl('tcp:10.0.0.1:7000?token=abc')).toBe('tcp:10.0.0.1:7000?token=***');
  });

  it('leaves endpoints without credentials alone', () => {
    for (const e of ['unix:/run/dragonflow/nb.sock', 'tcp:127.0.0.1:7000', 'http://127.0.0.1:2379', 'redis://localhost', 'unix:///tmp/etcd.sock:0', '/tmp/a@b/nb.sock']) {
      expect(redactUrl(e)).toBe(e);
    }
  });
});
