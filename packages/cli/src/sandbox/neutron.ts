import { DfError } from '@dragonflow/base';

export interface NeutronNetwork {
  readonly id: string;
  readonly name: string;
  readonly mtu?: number;
  readonly subnets: readonly string[];
  readonly 'provider:network_type'?: string;
  readonly 'provider:segmentation_id'?: number | null;
}

export interface NeutronSubnet {
  readonly id: string;
  readonly name: string;
  readonly network_id: string;
  readonly cidr: string;
  readonly ip_version: number;
  readonly gateway_ip: string | null;
  readonly enable_dhcp?: boolean;
}

export interface NeutronPort {
  readonly id: string;
  readonly name: string;
  readonly network_id: string;
  readonly mac_address: string;
  readonly status: string;
  readonly fixed_ips: readonly { readonly subnet_id: string; readonly ip_address: string }[];
  readonly device_owner?: string;
  readonly 'binding:host_id'?: string;
}

export interface NeutronRouter {
  readonly id: string;
  readonly name: string;
}

type Collection = 'networks' | 'subnets' | 'ports';
const SINGULAR: Record<Collection, string> = { networks: 'network', subnets: 'subnet', ports: 'port' };

/**
 * The few Neutron v2.0 calls the sandbox makes against df-api (the same REST the
 * openstack CLI uses): look up by name or id, create and delete ports.
 */
export class NeutronClient {
  constructor(readonly url: string) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.url}/v2.0${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (cause) {
      throw new DfError('API_UNREACHABLE', `df-api does not answer at ${this.url} (${(cause as Error).message}); is the sandbox up? (pnpm dfctl sandbox status)`, { cause, context: { url: this.url } });
    }
    const text = await res.text();
    if (!res.ok) {
      let message = text;
      try {
        message = (JSON.parse(text) as { NeutronError?: { message?: string } }).NeutronError?.message ?? text;
      } catch {
        // not JSON: keep the text
      }
      throw new DfError('API_ERROR', `df-api: ${method} ${path}: ${res.status} ${message}`, { context: { method, path, status: res.status } });
    }
    return (text ? JSON.parse(text) : {}) as T;
  }

  /** Finds one object by id or by (unique) name, as the openstack CLI does. */
  async find<C extends Collection>(collection: C, nameOrId: string): Promise<C extends 'networks' ? NeutronNetwork : C extends 'subnets' ? NeutronSubnet : NeutronPort> {
    type R = C extends 'networks' ? NeutronNetwork : C extends 'subnets' ? NeutronSubnet : NeutronPort;
    const one = SINGULAR[collection];
    try {
      const r = await this.call<Record<string, R>>('GET', `/${collection}/${encodeURIComponent(nameOrId)}`);
      return r[one]!;
    } catch (err) {
      if (!(err instanceof DfError) || err.context['status'] !== 404) throw err;
    }
    const list = (await this.call<Record<string, R[]>>('GET', `/${collection}?name=${encodeURIComponent(nameOrId)}`))[collection] ?? [];
    if (list.length === 0) throw new DfError('NOT_FOUND', `no ${one} named or with id '${nameOrId}'`, { context: { [one]: nameOrId } });
    if (list.length > 1) throw new DfError('AMBIGUOUS', `${list.length} ${collection} are named '${nameOrId}': give the id`, { context: { [one]: nameOrId } });
    return list[0]!;
  }

  async getPort(id: string): Promise<NeutronPort> {
    return (await this.call<{ port: NeutronPort }>('GET', `/ports/${id}`)).port;
  }

  async listPorts(): Promise<NeutronPort[]> {
    return (await this.call<{ ports: NeutronPort[] }>('GET', '/ports')).ports;
  }

  async createPort(port: Record<string, unknown>): Promise<NeutronPort> {
    return (await this.call<{ port: NeutronPort }>('POST', '/ports', { port })).port;
  }

  async deletePort(id: string): Promise<void> {
    await this.call('DELETE', `/ports/${id}`);
  }

  async createNetwork(network: Record<string, unknown>): Promise<NeutronNetwork> {
    return (await this.call<{ network: NeutronNetwork }>('POST', '/networks', { network })).network;
  }

  async createSubnet(subnet: Record<string, unknown>): Promise<NeutronSubnet> {
    return (await this.call<{ subnet: NeutronSubnet }>('POST', '/subnets', { subnet })).subnet;
  }

  async createRouter(router: Record<string, unknown>): Promise<NeutronRouter> {
    return (await this.call<{ router: NeutronRouter }>('POST', '/routers', { router })).router;
  }

  /** Attaches a subnet to a router (its gateway IP becomes the router's interface address). */
  async addRouterInterface(routerId: string, subnetId: string): Promise<void> {
    await this.call('PUT', `/routers/${routerId}/add_router_interface`, { subnet_id: subnetId });
  }

  /** The router interface ports on a network (device owner network:router_interface). */
  async routerInterfaces(networkId: string): Promise<NeutronPort[]> {
    return (await this.call<{ ports: NeutronPort[] }>('GET', `/ports?network_id=${encodeURIComponent(networkId)}&device_owner=network%3Arouter_interface`)).ports;
  }

  async updatePort(id: string, port: Record<string, unknown>): Promise<NeutronPort> {
    return (await this.call<{ port: NeutronPort }>('PUT', `/ports/${id}`, { port })).port;
  }

  async createSecurityGroup(group: Record<string, unknown>): Promise<{ id: string; name: string }> {
    return (await this.call<{ security_group: { id: string; name: string } }>('POST', '/security-groups', { security_group: group })).security_group;
  }

  async createSecurityGroupRule(rule: Record<string, unknown>): Promise<{ id: string }> {
    return (await this.call<{ security_group_rule: { id: string } }>('POST', '/security-group-rules', { security_group_rule: rule })).security_group_rule;
  }

  /** The one router or security group named `name` (the demo's REST path, without the openstack CLI). */
  async named(collection: 'routers' | 'security-groups', name: string): Promise<{ id: string; name: string }> {
    const list = (await this.call<Record<string, { id: string; name: string }[]>>('GET', `/${collection}?name=${encodeURIComponent(name)}`))[collection.replace('-', '_')] ?? [];
    if (list.length !== 1) throw new DfError(list.length === 0 ? 'NOT_FOUND' : 'AMBIGUOUS', `${list.length} ${collection} named '${name}'`, { context: { collection, name } });
    return list[0]!;
  }

  async updateRouter(id: string, router: Record<string, unknown>): Promise<NeutronRouter> {
    return (await this.call<{ router: NeutronRouter }>('PUT', `/routers/${id}`, { router })).router;
  }

  async createFloatingIp(floatingip: Record<string, unknown>): Promise<{ id: string; floating_ip_address: string }> {
    return (await this.call<{ floatingip: { id: string; floating_ip_address: string } }>('POST', '/floatingips', { floatingip })).floatingip;
  }

  /** True when df-api answers version discovery. */
  async alive(): Promise<boolean> {
    try {
      return (await fetch(`${this.url}/`)).ok;
    } catch {
      return false;
    }
  }
}
