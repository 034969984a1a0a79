import { DfError, isDfError } from '@dragonflow/base';
import { NbErrorCode } from '@dragonflow/nb';
import { neutronFieldName } from './field-names.js';

/**
 * An error answered as Neutron does: `{"NeutronError": {"type", "message", "detail"}}`
 * with an HTTP status. `type` is Neutron's exception class name (NetworkNotFound,
 * IpAddressInUse, …) so clients that match on it keep working.
 */
export class NeutronError extends DfError {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    context: Record<string, unknown> = {},
  ) {
    super('API_' + type, message, { context });
  }

  get body(): { NeutronError: { type: string; message: string; detail: string } } {
    return { NeutronError: { type: this.type, message: this.message, detail: '' } };
  }
}

/** Neutron resource names (singular) of the collections, for XNotFound/XInUse types. */
export type ResourceKind = 'network' | 'subnet' | 'port' | 'router' | 'floatingip' | 'security_group' | 'security_group_rule';

const TYPE_NAME: Record<ResourceKind, string> = {
  network: 'Network',
  subnet: 'Subnet',
  port: 'Port',
  router: 'Router',
  floatingip: 'FloatingIP',
  security_group: 'SecurityGroup',
  security_group_rule: 'SecurityGroupRule',
};

const KIND_OF_TABLE: Record<string, ResourceKind> = {
  logical_switch: 'network',
  subnet: 'subnet',
  logical_port: 'port',
  logical_router: 'router',
  floating_ip: 'floatingip',
  security_group: 'security_group',
};

export function notFound(kind: ResourceKind, id: string): NeutronError {
  const what: Record<ResourceKind, string> = {
    network: `Network ${id} could not be found.`,
    subnet: `Subnet ${id} could not be found.`,
    port: `Port ${id} could not be found.`,
    router: `Router ${id} could not be found.`,
    floatingip: `Floating IP ${id} could not be found.`,
    security_group: `Security group ${id} does not exist`,
    security_group_rule: `Security group rule ${id} does not exist`,
  };
  return new NeutronError(404, `${TYPE_NAME[kind]}NotFound`, what[kind], { id });
}

/** 400 for a request attribute: "Invalid input for FIELD. Reason: REASON." */
export function badAttribute(field: string, reason: string): NeutronError {
  return new NeutronError(400, 'HTTPBadRequest', `Invalid input for ${field}. Reason: ${reason}.`, { field });
}

/** 400 for a semantic problem the field names (Neutron's InvalidInput). */
export function invalidInput(message: string, field?: string): NeutronError {
  return new NeutronError(400, 'InvalidInput', `Invalid input for operation: ${message}`, field ? { field } : {});
}

export function badRequest(resource: string, message: string, field?: string): NeutronError {
  return new NeutronError(400, 'BadRequest', `Bad ${resource} request: ${message}`, field ? { field } : {});
}

export function conflict(type: string, message: string, context: Record<string, unknown> = {}): NeutronError {
  return new NeutronError(409, type, message, context);
}

export function policyNotAuthorized(action: string): NeutronError {
  return new NeutronError(403, 'PolicyNotAuthorized', `(rule:${action}) is disallowed by policy`, { action });
}

export function ipAddressInUse(networkId: string, ip: string): NeutronError {
  return conflict('IpAddressInUse', `Unable to complete operation for network ${networkId}. The IP address ${ip} is in use.`, { field: 'fixed_ips' });
}

export function macAddressInUse(networkId: string, mac: string): NeutronError {
  return conflict('MacAddressInUse', `Unable to complete operation for network ${networkId}. The mac address ${mac} is in use.`, { field: 'mac_address' });
}

export function ipGenerationFailure(networkId: string): NeutronError {
  return conflict('IpAddressGenerationFailure', `No more IP addresses available on network ${networkId}.`, { field: 'fixed_ips' });
}

/**
 * Turns errors from the northbound layer into Neutron errors. The API checks what
 * users can get wrong before it writes, so these are mostly races lost after the
 * retries and safety nets; they still name the field in Neutron's terms.
 */
export function fromNbError(err: unknown): NeutronError | undefined {
  if (err instanceof NeutronError) return err;
  if (!isDfError(err)) return undefined;
  const table = typeof err.context['table'] === 'string' ? err.context['table'] : '';
  const id = typeof err.context['id'] === 'string' ? err.context['id'] : '';
  const field = typeof err.context['field'] === 'string' ? neutronFieldName(table, err.context['field']) : undefined;
  const kind = KIND_OF_TABLE[table];
  const detail = stripPrefix(err.message);
  switch (err.code) {
    case NbErrorCode.INVALID:
      return field ? badAttribute(field, detail) : invalidInput(detail);
    case NbErrorCode.NOT_FOUND:
      return kind ? notFound(kind, id) : new NeutronError(404, 'NotFound', detail);
    case NbErrorCode.CONFLICT: {
      if (err.context['reason'] === 'in-use') {
        const f = String(err.context['field'] ?? '');
        if (table === 'logical_port' && f.startsWith('fixedIps')) return conflict('IpAddressInUse', `Unable to complete operation: ${detail}.`, { field });
        if (table === 'logical_port' && f === 'macAddress') return conflict('MacAddressInUse', `Unable to complete operation: ${detail}.`, { field });
        if (table === 'logical_switch') return conflict('SegmentationIdInUse', `Unable to create the network: ${detail}.`, { field });
        if (kind && !f) return conflict(`${TYPE_NAME[kind]}InUse`, `Unable to complete operation on ${kind} ${id}: ${detail}.`);
        return conflict('Conflict', detail, field ? { field } : {});
      }
      return conflict('Conflict', `The request conflicted with concurrent changes and could not be completed: ${detail}`, field ? { field } : {});
    }
    case NbErrorCode.UNAVAILABLE:
    case NbErrorCode.CLOSED:
      // Generic on purpose: the driver's message names the DB endpoint (maybe with
      // credentials) and the network behind it; the log has the details.
      return new NeutronError(503, 'ServiceUnavailable', 'The northbound database is unavailable; try again later.');
    case NbErrorCode.KEYS_EXHAUSTED:
      return new NeutronError(503, 'ServiceUnavailable', `No more object keys can be allocated: ${detail}`);
    default:
      return undefined;
  }
}

/** NB messages start with `table.field: `; the Neutron message names the field itself. */
function stripPrefix(message: string): string {
  return message.replace(/^[a-z_]+(\.[A-Za-z0-9_.[\]]+)?: /, '');
}
