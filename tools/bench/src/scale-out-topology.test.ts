import { describe, expect, it } from 'vitest';
import { PORTS_PER_TENANT, portsOnChassis, probe, tenantChassis, tenantOps, tenants, vmPortOf, type CloudShape } from './scale-out-topology.js';

const shape: CloudShape = { ports: 2000, hosts: 100, running: 100, spread: 10 };

describe('the scale-out cloud', () => {
  it('puts every VM port on exactly one chassis, the same number on each', () => {
    const counts = Array.from({ length: shape.hosts }, (_, c) => portsOnChassis(shape, c).length);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(shape.ports);
    expect(new Set(counts)).toEqual(new Set([shape.ports / shape.hosts]));
    const ofports = portsOnChassis(shape, 7).map((p) => p.ofport);
    expect(new Set(ofports).size).toBe(ofports.length);
  });

  it('spreads a tenant over `spread` chassis and nowhere else', () => {
    for (let t = 0; t < tenants(shape); t++) {
      const hosts = new Set(Array.from({ length: PORTS_PER_TENANT }, (_, j) => vmPortOf(shape, t, j).host));
      expect([...hosts].sort((a, b) => a - b)).toEqual([...tenantChassis(shape, t)].sort((a, b) => a - b));
    }
  });

  it('keeps the bigger cloud at the same ports per chassis when it has more chassis', () => {
    const big: CloudShape = { ports: 10_000, hosts: 500, running: 100, spread: 10 };
    expect(portsOnChassis(big, 0)).toHaveLength(20);
    expect(portsOnChassis(big, 499)).toHaveLength(20);
  });

  it('places probes on tenants whose chassis all run, each needed by its tenant\'s chassis', () => {
    const big: CloudShape = { ports: 10_000, hosts: 500, running: 100, spread: 10 };
    const ids = new Set<string>();
    for (let k = 0; k < 200; k++) {
      const p = probe(big, k);
      expect(p.needs).toHaveLength(10);
      expect(p.needs.every((c) => c < big.running)).toBe(true);
      expect(p.needs).toContain(p.host);
      ids.add(p.portId);
    }
    expect(ids.size).toBe(200);
  });

  it('gives every object of a tenant a distinct id and every port a distinct key, MAC and address', () => {
    const ops = [...tenantOps(shape, 0), ...tenantOps(shape, 1), ...Array.from({ length: 30 }, (_, k) => probe(shape, k).op)];
    const ids = ops.map((o) => `${o.table}/${o.id}`);
    expect(new Set(ids).size).toBe(ids.length);
    const ports = ops.filter((o) => o.type === 'put' && o.table === 'logical_port').map((o) => JSON.parse((o as { value: string }).value) as { key: number; macAddress: string; fixedIps: { ipAddress: string }[] });
    for (const values of [ports.map((p) => String(p.key)), ports.map((p) => p.macAddress), ports.map((p) => p.fixedIps[0]!.ipAddress)]) expect(new Set(values).size).toBe(values.length);
  });
});
