/**
 * Regenerates test/fixtures/*.json from a real Open vSwitch:
 *   pnpm --filter @dragonflow/openflow capture-fixtures
 *
 * 1. controller→switch: we act as the switch on a unix socket and let
 *    `ovs-ofctl -O OpenFlow13 <command> unix:SOCK` connect to us (ofctl-commands.ts).
 * 2. switch→controller: we act as a controller of a real ovs-vswitchd (userspace
 *    datapath, temporary directory) through the bridge's management socket and record
 *    what it sends (vswitchd-scenarios.ts).
 *
 * Each fixture keeps the exact command that produced it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, removeDir, run } from '@dragonflow/sandbox';
import { test } from 'vitest';
import { MacAddress } from '@dragonflow/base';
import { encodeMessage, type OfMessage } from '../../src/index.js';
import { TestSwitch } from '../support/of-peer.js';
import { OFCTL_CAPTURES } from './ofctl-commands.js';
import { captureVswitchd } from './vswitchd-scenarios.js';

export interface Fixture {
  readonly name: string;
  readonly command: string;
  readonly messages: readonly string[];
}

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

/** Minimal switch answers so each ovs-ofctl command runs to completion. */
function respond(msg: OfMessage): OfMessage[] | undefined {
  const xid = msg.xid;
  switch (msg.type) {
    case 'features_request':
      return [{ type: 'features_reply', xid, datapathId: 0x1234n, nBuffers: 0, nTables: 254, auxiliaryId: 0, capabilities: 0x4f, reserved: 0 }];
    case 'get_config_request':
      return [{ type: 'get_config_reply', xid, flags: 0, missSendLen: 128 }];
    case 'barrier_request':
      return [{ type: 'barrier_reply', xid }];
    case 'echo_request':
      return [{ type: 'echo_reply', xid, data: msg.data }];
    case 'multipart_request':
      switch (msg.body.kind) {
        case 'desc':
          return [{ type: 'multipart_reply', xid, more: false, body: { kind: 'desc', desc: { mfrDesc: 'm', hwDesc: 'h', swDesc: 's', serialNum: 'n', dpDesc: 'd' } } }];
        case 'flow':
          return [{ type: 'multipart_reply', xid, more: false, body: { kind: 'flow', flows: [] } }];
        case 'table':
          return [{ type: 'multipart_reply', xid, more: false, body: { kind: 'table', tables: [] } }];
        case 'port_stats':
          return [{ type: 'multipart_reply', xid, more: false, body: { kind: 'port_stats', ports: [] } }];
        case 'port_desc':
          return [
            {
              type: 'multipart_reply',
              xid,
              more: false,
              body: { kind: 'port_desc', ports: [{ portNo: 1, hwAddr: MacAddress.parse('00:00:00:00:00:01'), name: 'p1', config: 0, state: 0, curr: 0, advertised: 0, supported: 0, peer: 0, currSpeed: 0, maxSpeed: 0 }] },
            },
          ];
        case 'group_desc':
          return [{ type: 'multipart_reply', xid, more: false, body: { kind: 'group_desc', groups: [] } }];
        case 'meter_config':
          return [{ type: 'multipart_reply', xid, more: false, body: { kind: 'meter_config', meters: [] } }];
        case 'unknown':
          // e.g. table-features, which ovs-ofctl asks before a flow-mod: "not supported"
          return [{ type: 'error', xid, errorType: 1, code: 2, data: encodeMessage(msg) }];
        default:
          return undefined;
      }
    default:
      return undefined;
  }
}

test('capture controller→switch messages from ovs-ofctl', async () => {
  const dir = makeTempDir('df-ofcap-');
  const out: Fixture[] = [];
  try {
    for (const c of OFCTL_CAPTURES) {
      const sock = join(dir, `${c.name}.sock`);
      const sw = await TestSwitch.listen(sock, respond);
      const args = ['-O', 'OpenFlow13', '--no-names', ...c.args.map((a) => (a === 'T' ? `unix:${sock}` : a))];
      const r = await run('ovs-ofctl', args, { allowFailure: true, timeoutMs: 8000 });
      await sw.close();
      const keep = c.keep ?? null;
      const msgs = sw.sessions.flat().filter((s) => (keep ? keep.includes(s.msg.type) : s.msg.type !== 'hello' && s.msg.type !== 'barrier_request'));
      if (msgs.length === 0) throw new Error(`${c.name}: ovs-ofctl sent nothing we keep (exit ${r.code}: ${r.stderr}); session: ${sw.sessions.flat().map((s) => s.msg.type + ":" + s.hex).join(" ")}`);
      out.push({ name: c.name, command: `ovs-ofctl ${c.args.map((a) => (a === 'T' ? 'unix:SOCK' : a.includes(',') || a.includes('(') ? `'${a}'` : a)).join(' ').replace(/^/, '-O OpenFlow13 --no-names ')}`, messages: msgs.map((s) => s.hex) });
    }
  } finally {
    removeDir(dir);
  }
  writeFileSync(join(FIXTURES, 'ovs-ofctl.json'), JSON.stringify(out, null, 1) + '\n');
});

test('capture switch→controller messages from ovs-vswitchd', async () => {
  const fixtures = await captureVswitchd();
  writeFileSync(join(FIXTURES, 'ovs-vswitchd.json'), JSON.stringify(fixtures, null, 1) + '\n');
});
