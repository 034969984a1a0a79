import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { buildProgram, main } from '../main.js';

async function run(args: string[]): Promise<{ code: number; err: string; out: string }> {
  let err = '';
  let out = '';
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  try {
    return { code: await main(args), err, out };
  } finally {
    e.mockRestore();
    o.mockRestore();
  }
}

describe('dfctl sandbox (argument handling; the real thing is in tests/src/sandbox-cli)', () => {
  it('lists its subcommands', () => {
    const sandbox = buildProgram().commands.find((c) => c.name() === 'sandbox')!;
    expect(sandbox.commands.map((c) => c.name()).sort()).toEqual(['chassis', 'controller', 'down', 'exec', 'outside', 'status', 'up', 'vm']);
    expect(sandbox.commands.find((c) => c.name() === 'chassis')!.commands.map((c) => c.name()).sort()).toEqual(['kill', 'start']);
    expect(sandbox.commands.find((c) => c.name() === 'vm')!.commands.map((c) => c.name()).sort()).toEqual(['create', 'delete', 'list']);
    const up = sandbox.commands.find((c) => c.name() === 'up')!.helpInformation().replace(/\s+/g, ' ');
    for (const o of ['--chassis', '--db', '--apps', '--app-options', '--tunnel', '--dir', '--api-port', '--external', '--gateway-chassis', '--liveness-ttl']) expect(up).toContain(o);
    expect(up).toMatch(/--tunnel <types> tunnel type\(s\) between chassis, comma-separated/);
    expect(up).toContain('@dragonflow/app-l2, @dragonflow/app-portsec, @dragonflow/app-sg, @dragonflow/app-dhcp, @dragonflow/app-l3-proactive');
  });

  it('parses --tunnel as a list (duplicates dropped, order kept)', () => {
    const up = buildProgram().commands.find((c) => c.name() === 'sandbox')!.commands.find((c) => c.name() === 'up')!;
    const parse = (v: string) => (up.options.find((o) => o.long === '--tunnel')!.parseArg as (v: string, prev: unknown) => unknown)(v, undefined);
    expect(parse('vxlan,geneve,gre')).toEqual(['vxlan', 'geneve', 'gre']);
    expect(parse(' gre , vxlan,gre')).toEqual(['gre', 'vxlan']);
    expect(up.getOptionValue('tunnel')).toEqual(['vxlan']);
  });

  it('parses --app-options PACKAGE=OPTIONS (YAML or JSON), repeatable, merged per package', () => {
    const up = buildProgram().commands.find((c) => c.name() === 'sandbox')!.commands.find((c) => c.name() === 'up')!;
    const parse = up.options.find((o) => o.long === '--app-options')!.parseArg as (v: string, prev: unknown) => unknown;
    const dnat = parse('@dragonflow/app-dnat={mode: centralized}', undefined);
    expect(dnat).toEqual({ '@dragonflow/app-dnat': { mode: 'centralized' } });
    const both = parse('@dragonflow/app-snat={"mode":"distributed","pool":"172.24.4.200/29"}', dnat);
    expect(both).toEqual({ '@dragonflow/app-dnat': { mode: 'centralized' }, '@dragonflow/app-snat': { mode: 'distributed', pool: '172.24.4.200/29' } });
    expect(parse('@dragonflow/app-snat={arp: {retrySeconds: 2}}', both)).toMatchObject({ '@dragonflow/app-snat': { mode: 'distributed', arp: { retrySeconds: 2 } } });
  });

  it('refuses bad option values before touching anything', async () => {
    const r1 = await run(['sandbox', 'up', '--chassis', '0']);
    expect(r1.code).not.toBe(0);
    expect(r1.err).toMatch(/--chassis must be an integer 1\.\.20/);
    const r2 = await run(['sandbox', 'up', '--db', 'mysql']);
    expect(r2.err).toMatch(/--db must be one of memory, etcd, redis/);
    const r3 = await run(['sandbox', 'up', '--tunnel', 'ipip']);
    expect(r3.err).toMatch(/--tunnel: ipip: each must be one of vxlan, geneve, gre/);
    const r3b = await run(['sandbox', 'up', '--tunnel', 'vxlan,geneve,stt']);
    expect(r3b.err).toMatch(/--tunnel: stt: each must be one of vxlan, geneve, gre/);
    const r3c = await run(['sandbox', 'up', '--tunnel', ',']);
    expect(r3c.err).toMatch(/--tunnel needs at least one of vxlan, geneve, gre/);
    const r3d = await run(['sandbox', 'up', '--gateway-chassis', '1']);
    expect(r3d.err).toMatch(/--gateway-chassis needs --external/);
    const r3e = await run(['sandbox', 'up', '--chassis', '2', '--external', '--gateway-chassis', '1,3']);
    expect(r3e.err).toMatch(/--gateway-chassis 3: the sandbox has chassis 1\.\.2/);
    const r3ttl = await run(['sandbox', 'up', '--liveness-ttl', '500']);
    expect(r3ttl.err).toMatch(/--liveness-ttl must be an integer 1000\.\.600000/);
    const r3f = await run(['sandbox', 'up', '--external', '--gateway-chassis', 'x']);
    expect(r3f.err).toMatch(/--gateway-chassis must be an integer/);
    const r3g = await run(['sandbox', 'up', '--app-options', 'mode=centralized']);
    expect(r3g.err).toMatch(/--app-options mode: the options must be a mapping/);
    const r3h = await run(['sandbox', 'up', '--app-options', '@dragonflow/app-dnat']);
    expect(r3h.err).toMatch(/--app-options @dragonflow\/app-dnat: must be PACKAGE=OPTIONS/);
    const r3i = await run(['sandbox', 'up', '--app-options', '@dragonflow/app-dnat={mode: [}']);
    expect(r3i.err).toMatch(/--app-options @dragonflow\/app-dnat: the options are not YAML or JSON/);
    const r3j = await run(['sandbox', 'up', '--apps', '@dragonflow/app-l2', '--app-options', '@dragonflow/app-dnat={mode: centralized}']);
    expect(r3j.err).toMatch(/--app-options: @dragonflow\/app-dnat: not among the sandbox's apps \(@dragonflow\/app-l2\)/);
    const r4 = await run(['sandbox', 'vm', 'create', 'vm1']);
    expect(r4.err).toMatch(/required option '--network <network>'/);
  });

  it('says clearly when the directory holds no sandbox', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'df-nosandbox-'));
    const r = await run(['sandbox', 'status', '--dir', dir]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`no dfctl sandbox in ${dir} .*start one with pnpm dfctl sandbox up`));
  });
});
