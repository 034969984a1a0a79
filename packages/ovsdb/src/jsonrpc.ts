import { DfError } from '@dragonflow/base';
import { OvsdbErrorCode } from './errors.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A call that expects an answer (RFC 7047 §4: JSON-RPC 1.0 over a stream). */
export interface JsonRpcRequest {
  readonly kind: 'request';
  readonly method: string;
  readonly params: JsonValue[];
  readonly id: JsonValue;
}

/** A call with `id: null`: no answer (`update`, `update2`, `cancel`, `locked`, ...). */
export interface JsonRpcNotification {
  readonly kind: 'notification';
  readonly method: string;
  readonly params: JsonValue[];
}

/** The answer to a request: exactly one of `result`/`error` is non-null. */
export interface JsonRpcResponse {
  readonly kind: 'response';
  readonly id: JsonValue;
  readonly result: JsonValue;
  readonly error: JsonValue;
}

export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function protocolError(message: string, value: unknown): DfError {
  let shown: string;
  try {
    shown = JSON.stringify(value).slice(0, 200);
  } catch {
    shown = String(value);
  }
  return new DfError(OvsdbErrorCode.PROTOCOL, message, { context: { message: shown } });
}

/** Classifies a parsed JSON value as a JSON-RPC message; anything else is a protocol error. */
export function toJsonRpcMessage(value: unknown): JsonRpcMessage {
  if (!isObject(value)) throw protocolError('JSON-RPC message must be an object', value);
  const id = value['id'];
  if ('method' in value) {
    const method = value['method'];
    const params = value['params'];
    if (typeof method !== 'string') throw protocolError('JSON-RPC "method" must be a string', value);
    if (!Array.isArray(params)) throw protocolError(`JSON-RPC "params" of "${method}" must be an array`, value);
    if (id === undefined) throw protocolError(`JSON-RPC "${method}" has no "id"`, value);
    if (id === null) return { kind: 'notification', method, params: params as JsonValue[] };
    return { kind: 'request', method, params: params as JsonValue[], id: id as JsonValue };
  }
  if (!('result' in value) && !('error' in value)) throw protocolError('JSON-RPC message is neither a request nor a response', value);
  if (id === undefined || id === null) throw protocolError('JSON-RPC response has no "id"', value);
  const result = (value['result'] ?? null) as JsonValue;
  const error = (value['error'] ?? null) as JsonValue;
  return { kind: 'response', id: id as JsonValue, result, error };
}

export function encodeRequest(method: string, params: readonly JsonValue[], id: JsonValue): string {
  return JSON.stringify({ method, params, id });
}

export function encodeNotification(method: string, params: readonly JsonValue[]): string {
  return JSON.stringify({ method, params, id: null });
}

export function encodeResponse(id: JsonValue, result: JsonValue, error: JsonValue = null): string {
  return JSON.stringify({ id, result, error });
}
