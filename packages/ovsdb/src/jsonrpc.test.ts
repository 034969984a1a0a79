import { describe, expect, it } from 'vitest';
import { isDfError } from '@dragonflow/base';
import { encodeNotification, encodeRequest, encodeResponse, toJsonRpcMessage } from './jsonrpc.js';

describe('JSON-RPC messages', () => {
  it('classifies requests, notifications and responses', () => {
    expect(toJsonRpcMessage({ method: 'echo', params: [], id: 'echo' })).toEqual({ kind: 'request', method: 'echo', params: [], id: 'echo' });
    expect(toJsonRpcMessage({ method: 'update2', params: ['m', {}], id: null })).toEqual({ kind: 'notification', method: 'update2', params: ['m', {}] });
    expect(toJsonRpcMessage({ id: 3, result: [], error: null })).toEqual({ kind: 'response', id: 3, result: [], error: null });
    expect(toJsonRpcMessage({ id: 3, error: 'canceled', result: null })).toEqual({ kind: 'response', id: 3, result: null, error: 'canceled' });
  });

  it.each([
    ['an array', [1, 2]],
    ['a string', 'x'],
    ['a method that is not a string', { method: 3, params: [], id: 1 }],
    ['params that are not an array', { method: 'echo', params: {}, id: 1 }],
    ['a request without id', { method: 'echo', params: [] }],
    ['a response without id', { result: 1, error: null }],
    ['a response with a null id', { result: 1, error: null, id: null }],
    ['an object that is neither', { id: 1 }],
  ])('rejects %s as a protocol error', (_what, value) => {
    expect(() => toJsonRpcMessage(value)).toThrow(expect.objectContaining({ code: 'OVSDB_PROTOCOL' }));
    try {
      toJsonRpcMessage(value);
    } catch (err) {
      expect(isDfError(err, 'OVSDB_PROTOCOL')).toBe(true);
    }
  });

  it('encodes the three shapes RFC 7047 uses', () => {
    expect(JSON.parse(encodeRequest('transact', ['db'], 5))).toEqual({ method: 'transact', params: ['db'], id: 5 });
    expect(JSON.parse(encodeNotification('cancel', [5]))).toEqual({ method: 'cancel', params: [5], id: null });
    expect(JSON.parse(encodeResponse('echo', ['x']))).toEqual({ id: 'echo', result: ['x'], error: null });
  });
});
