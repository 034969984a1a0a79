import { describe, expect, it, test } from 'vitest';
import { buildProgram } from '../main.js';
import { parseEcho, runOpenflowDemo } from './demo.js';

describe('dfctl demo --openflow-only', () => {
  test('installs a flow through our controller into a real Open vSwitch and shows it, then cleans up', async () => {
    const lines: string[] = [];
    const dump = await runOpenflowDemo({ out: (l) => lines.push(l) });
    expect(dump).toMatch(/cookie=0xdf0001, .*priority=100,ip,nw_dst=10\.0\.0\.0\/24 actions=dec_ttl,set_field:02:00:00:00:00:01->eth_dst,LOCAL/);
    expect(lines.join('\n')).toMatch(/switch connected: datapath id 00000000000d0f01/);
    expect(lines.at(-1)).toBe('• tearing down');
  }, 60_000);
});

describe('dfctl demo (the sandbox demo runs end to end in tests/src/sandbox-cli/demo.test.ts)', () => {
  it('says what it does and takes the sandbox options', () => {
    const demo = buildProgram().commands.find((c) => c.name() === 'demo')!;
    const help = demo.helpInformation().replace(/\s+/g, ' ');
    expect(help).toMatch(/two networks and a router with the openstack CLI/);
    expect(help).toMatch(/reach a VM from outside at a floating IP/);
    for (const o of ['--keep', '--openflow-only', '--apps', '--tunnel', '--db', '--dir', '--api-port']) expect(help).toContain(o);
    expect(help).toContain('@dragonflow/app-l2, @dragonflow/app-portsec, @dragonflow/app-sg, @dragonflow/app-dhcp, @dragonflow/app-l3-proactive');
  });

  it('reads the MACs and TTL of the receiver’s capture (tcpdump -e -v)', () => {
    const text = [
      '07:01:02.345678 fa:16:3e:02:00:01 > fa:16:3e:aa:bb:cc, ethertype IPv4 (0x0800), length 98: (tos 0x0, ttl 63, id 4711, offset 0, flags [DF], proto ICMP (1), length 84)',
      '    10.0.1.5 > 10.0.2.7: ICMP echo request, id 3, seq 1, length 64',
    ].join('\n');
    expect(parseEcho(text)).toEqual({ srcMac: 'fa:16:3e:02:00:01', dstMac: 'fa:16:3e:aa:bb:cc', ttl: 63 });
    expect(parseEcho('tcpdump: listening on eth0')).toBeUndefined();
  });
});
