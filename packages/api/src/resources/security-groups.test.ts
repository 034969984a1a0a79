import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultSecurityGroupId } from '../services/default-sg.js';
import { Harness, neutronError } from '../../test/harness.js';

let h: Harness;
const demo = { 'x-project-id': 'demo', 'x-roles': 'member' };

beforeEach(async () => {
  h = await Harness.start();
});
afterEach(async () => {
  await h.close();
});

type Rule = { id: string; direction: string; ethertype: string; protocol: string | null; port_range_min: number | null; port_range_max: number | null; remote_ip_prefix: string | null; remote_group_id: string | null };

describe('security groups', () => {
  it("shows a project's default group with Neutron's rules the first time the project lists its groups", async () => {
    const list = await h.get('/v2.0/security-groups', demo);
    const groups = list.body['security_groups'] as { id: string; name: string; project_id: string; security_group_rules: Rule[] }[];
    expect(groups).toHaveLength(1);
    const g = groups[0]!;
    expect(g).toMatchObject({ id: defaultSecurityGroupId('demo'), name: 'default', project_id: 'demo', stateful: true });
    const rules = g.security_group_rules.map((r) => [r.direction, r.ethertype, r.remote_group_id, r.remote_ip_prefix, r.protocol]);
    expect(rules).toEqual([
      ['egress', 'IPv4', null, null, null],
      ['egress', 'IPv6', null, null, null],
      ['ingress', 'IPv4', g.id, null, null],
      ['ingress', 'IPv6', g.id, null, null],
    ]);
    const again = await h.get('/v2.0/security-groups', demo);
    expect(again.body['security_groups']).toHaveLength(1);
    const del = await h.delete(`/v2.0/security-groups/${g.id}`, demo);
    expect(del.status).toBe(409);
    expect(neutronError(del).type).toBe('SecurityGroupCannotRemoveDefault');
  });

  it('creates groups with egress rules, adds and deletes rules, refuses duplicates', async () => {
    const g = await h.create('security-groups', 'security_group', { name: 'web', description: 'web servers' });
    const id = String(g['id']);
    expect((g['security_group_rules'] as Rule[]).map((r) => r.direction)).toEqual(['egress', 'egress']);
    const rule = await h.create('security-group-rules', 'security_group_rule', { security_group_id: id, direction: 'ingress', protocol: 'tcp', port_range_min: 80, port_range_max: 80, remote_ip_prefix: '10.0.0.0/8' });
    expect(rule).toMatchObject({ security_group_id: id, direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 80, port_range_max: 80, remote_ip_prefix: '10.0.0.0/8', project_id: 'admin' });
    const dup = await h.post('/v2.0/security-group-rules', { security_group_rule: { security_group_id: id, direction: 'ingress', protocol: '6', port_range_min: 80, port_range_max: 80, remote_ip_prefix: '10.0.0.0/8' } });
    expect(dup.status).toBe(409);
    expect(neutronError(dup)).toMatchObject({ type: 'SecurityGroupRuleExists', message: `Security group rule already exists. Rule id is ${String(rule['id'])}.` });
    const shown = await h.get(`/v2.0/security-group-rules/${String(rule['id'])}`);
    expect(shown.body['security_group_rule']).toEqual(rule);
    const filtered = await h.get(`/v2.0/security-group-rules?security_group_id=${id}&direction=ingress`);
    expect(filtered.body['security_group_rules']).toEqual([rule]);
    expect((await h.delete(`/v2.0/security-group-rules/${String(rule['id'])}`)).status).toBe(204);
    expect((await h.get(`/v2.0/security-group-rules/${String(rule['id'])}`)).status).toBe(404);
    const named = await h.post('/v2.0/security-groups', { security_group: { name: 'default' } });
    expect(neutronError(named).type).toBe('SecurityGroupDefaultAlreadyExists');
  });

  it('checks rules as Neutron does', async () => {
    const id = String((await h.create('security-groups', 'security_group', { name: 'x' }))['id']);
    const before = h.revision;
    const cases: [Record<string, unknown>, string][] = [
      [{ protocol: 'tcp', port_range_min: 90, port_range_max: 80 }, 'SecurityGroupInvalidPortRange'],
      [{ protocol: 'tcp', port_range_min: 0, port_range_max: 80 }, 'SecurityGroupInvalidPortValue'],
      [{ protocol: 'icmp', port_range_min: 300 }, 'SecurityGroupInvalidIcmpValue'],
      [{ protocol: 'icmp', port_range_max: 0 }, 'SecurityGroupMissingIcmpType'],
      [{ protocol: 'gre', port_range_min: 1, port_range_max: 2 }, 'SecurityGroupInvalidProtocolForPortRange'],
      [{ protocol: 'bogus' }, 'SecurityGroupRuleInvalidProtocol'],
      [{ remote_ip_prefix: '::/0' }, 'SecurityGroupRuleParameterConflict'],
      [{ remote_ip_prefix: '10.0.0.0/8', remote_group_id: id }, 'SecurityGroupRemoteGroupAndRemoteIpPrefix'],
      [{ ethertype: 'IPv4', protocol: 'ipv6-icmp' }, 'SecurityGroupEthertypeConflictWithProtocol'],
      [{ remote_group_id: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee' }, 'SecurityGroupNotFound'],
    ];
    for (const [attrs, type] of cases) {
      const r = await h.post('/v2.0/security-group-rules', { security_group_rule: { security_group_id: id, direction: 'ingress', ...attrs } });
      expect(neutronError(r).type, JSON.stringify(attrs)).toBe(type);
    }
    const badDirection = await h.post('/v2.0/security-group-rules', { security_group_rule: { security_group_id: id, direction: 'sideways' } });
    expect(neutronError(badDirection).message).toBe('Invalid input for direction. Reason: \'sideways\' is not in ["ingress", "egress"].');
    expect(h.revision).toBe(before);
    const icmp6 = await h.create('security-group-rules', 'security_group_rule', { security_group_id: id, direction: 'ingress', ethertype: 'IPv6', protocol: 'icmp' });
    expect(icmp6['protocol']).toBe('ipv6-icmp');
  });

  it('refuses to delete a group ports use and drops remote-group rules of other groups with it', async () => {
    const a = String((await h.create('security-groups', 'security_group', { name: 'a' }))['id']);
    const b = String((await h.create('security-groups', 'security_group', { name: 'b' }))['id']);
    await h.create('security-group-rules', 'security_group_rule', { security_group_id: b, direction: 'ingress', remote_group_id: a });
    const net = String((await h.network())['id']);
    const p = await h.port(net, { security_groups: [a] });
    const busy = await h.delete(`/v2.0/security-groups/${a}`);
    expect(busy.status).toBe(409);
    expect(neutronError(busy)).toMatchObject({ type: 'SecurityGroupInUse', message: `Security Group ${a} in use.` });
    await h.put(`/v2.0/ports/${String(p['id'])}`, { port: { security_groups: [] } });
    expect((await h.delete(`/v2.0/security-groups/${a}`)).status).toBe(204);
    const rules = ((await h.get(`/v2.0/security-groups/${b}`)).body['security_group'] as { security_group_rules: Rule[] }).security_group_rules;
    expect(rules.some((r) => r.remote_group_id === a)).toBe(false);
  });

  it('keeps projects apart', async () => {
    const mine = String((await h.create('security-groups', 'security_group', { name: 'mine' }, demo))['id']);
    expect((await h.get(`/v2.0/security-groups/${mine}`, { 'x-project-id': 'other', 'x-roles': 'member' })).status).toBe(404);
    const rule = await h.post('/v2.0/security-group-rules', { security_group_rule: { security_group_id: mine, direction: 'ingress' } }, { 'x-project-id': 'other', 'x-roles': 'member' });
    expect(rule.status).toBe(404);
    expect((await h.get(`/v2.0/security-groups/${mine}`)).status).toBe(200);
  });
});
