import { NeutronError } from './errors.js';

/** One Ajv error (verbose mode: with the offending data and its schema). */
export interface SchemaError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
  data?: unknown;
  parentSchema?: Record<string, unknown>;
}

/** `/network/fixed_ips/0/ip_address` → `fixed_ips[0].ip_address` (the envelope and bulk index dropped). */
export function fieldOf(instancePath: string, context: string): string {
  const parts = instancePath.split('/').slice(1);
  if (context === 'body') {
    parts.shift();
    if (parts.length > 0 && /^\d+$/.test(parts[0]!)) parts.shift();
  }
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

function show(data: unknown): string {
  if (typeof data === 'string') return `'${data.length > 64 ? data.slice(0, 61) + '...' : data}'`;
  const s = JSON.stringify(data);
  return s === undefined ? String(data) : s.length > 64 ? s.slice(0, 61) + '...' : s;
}

const TYPE_WORDS: Record<string, string> = {
  boolean: 'boolean',
  integer: 'integer',
  number: 'number',
  string: 'string',
  array: 'list',
  object: 'dictionary',
  null: 'null',
};

function describeSchema(s: Record<string, unknown>): string[] {
  if (typeof s['title'] === 'string') return [s['title']];
  if ('const' in s) return [JSON.stringify(s['const'])];
  if (Array.isArray(s['anyOf'])) return (s['anyOf'] as Record<string, unknown>[]).flatMap(describeSchema);
  if (typeof s['type'] === 'string') return [TYPE_WORDS[s['type']] ?? s['type']];
  return ['value'];
}

/**
 * Turns a schema validation failure into Neutron's answers: "Unrecognized
 * attribute(s) 'x'", "Failed to parse request. Required attribute 'x' not
 * specified", or "Invalid input for FIELD. Reason: …".
 */
export function validationError(errors: SchemaError[], context: string): NeutronError {
  const first = errors[0];
  if (!first) return new NeutronError(400, 'HTTPBadRequest', 'Invalid request.');
  // A failed union reports each branch, then the union itself: answer for the outermost union.
  const union = [...errors].reverse().find((e) => e.keyword === 'anyOf' && e.instancePath === first.instancePath);
  const e = union ?? first;
  if (context === 'body' && e.instancePath === '' && (e.data === undefined || e.data === null)) return new NeutronError(400, 'HTTPBadRequest', 'Resource body required: the request has no body.');
  const field = fieldOf(e.instancePath, context);
  const where = context === 'body' ? '' : ` (${context})`;
  switch (e.keyword) {
    case 'additionalProperties': {
      const extra = String(e.params['additionalProperty']);
      const name = field ? `${field}.${extra}` : extra;
      return new NeutronError(400, 'HTTPBadRequest', `Unrecognized attribute(s) '${name}'${where}`, { field: name });
    }
    case 'required': {
      const missing = String(e.params['missingProperty']);
      const name = field ? `${field}.${missing}` : missing;
      return new NeutronError(400, 'HTTPBadRequest', `Failed to parse request. Required attribute '${name}' not specified${where}`, { field: name });
    }
    default:
      break;
  }
  let reason: string;
  switch (e.keyword) {
    case 'anyOf': {
      const options = describeSchema(e.parentSchema ?? {});
      const consts = options.every((o) => /^["\d]/.test(o) || o === 'null');
      reason = consts ? `${show(e.data)} is not in [${options.join(', ')}]` : `${show(e.data)} is not a valid ${options.join(' or ')}`;
      break;
    }
    case 'type':
      reason = `${show(e.data)} is not a valid ${String(e.params['type'])
        .split(',')
        .map((t) => TYPE_WORDS[t] ?? t)
        .join(' or ')}`;
      break;
    case 'const':
      reason = `${show(e.data)} is not in [${JSON.stringify(e.params['allowedValue'])}]`;
      break;
    case 'enum':
      reason = `${show(e.data)} is not in ${JSON.stringify(e.params['allowedValues'])}`;
      break;
    case 'format':
      reason = `${show(e.data)} is not a valid ${e.params['format'] === 'uuid' ? 'UUID' : String(e.params['format'])}`;
      break;
    case 'maxLength':
      reason = `${show(e.data)} exceeds maximum length of ${String(e.params['limit'])}`;
      break;
    case 'minItems':
      reason = `must have at least ${String(e.params['limit'])} item(s)`;
      break;
    default:
      reason = e.message ?? 'is not valid';
  }
  const name = field || (context === 'body' ? 'request body' : context);
  return new NeutronError(400, 'HTTPBadRequest', `Invalid input for ${name}. Reason: ${reason}.`, { field: name });
}
