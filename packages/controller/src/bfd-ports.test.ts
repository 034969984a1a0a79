import { silentLogger } from '@dragonflow/core/host';
import type { InterfaceState, TunnelPortOptions, VswitchDb } from '@dragonflow/ovsdb';
import { describe, expect, it } from 'vitest';
import { BFD_PEER_MARK, bfdForwardingFrom, bfdPeers, bfdPortName, ensureBfdPorts } from './bfd-ports.js';

const ME = 'c0000000-0000-4000-8000-000000000001';
const B = 'c0000000-0000-4000-8000-000000000002';
const C = 'c0000000-0000-4000-8000-000000000003';
const D = 'c0000000-0000-4000-8000-000000000004';
const ips: Record<string, string> = { [B]: '192.0.2.2', [C]: '192.0.2.3', [D]: '192.0.2.4' };
const gw = (...chassisIds: string[]) => ({ externalGateway: { chassisIds } }) as never;

function iface(name: string, externalIds: Record<string, string>, bfdStatus: Record<string, string> = {}): InterfaceState {
  return { uuid: name, name, type: 'vxlan', bridge: 'br-int', port: name, ofport: 5, ifaceId: undefined, attachedMac: undefined, externalIds, options: {}, macInUse: undefined, linkState: undefined, adminState: undefined, error: undefined, bfdStatus };
}

describe('BFD ports', () => {
  it('peers: the other gateway chassis of the routers this chassis is a gateway chassis of, nothing else', () => {
    const peers = bfdPeers(ME, [gw(ME, B), gw(C, ME, B), gw(C, D), { externalGateway: null } as never], (id) => (ips[id] ? { tunnelIp: ips[id] } : undefined));
    expect([...peers].sort()).toEqual([
      [B, '192.0.2.2'],
      [C, '192.0.2.3'],
    ]);
    expect(bfdPeers(ME, [gw(C, D)], () => ({ tunnelIp: '192.0.2.9' })).size).toBe(0);
    // a peer whose chassis record (tunnel IP) is not known yet is left out
    expect(bfdPeers(ME, [gw(ME, B)], () => undefined).size).toBe(0);
  });

  it('port names fit a netdev name and differ per peer', () => {
    expect(bfdPortName(B)).toMatch(/^dfbfd-[0-9a-f]{8}$/);
    expect(bfdPortName(B)).not.toBe(bfdPortName(C));
  });

  it('reads forwarding from bfd_status of our ports only', () => {
    const m = bfdForwardingFrom(
      new Map([
        ['p1', iface('p1', { [BFD_PEER_MARK]: B }, { state: 'up', forwarding: 'true' })],
        ['p2', iface('p2', { [BFD_PEER_MARK]: C }, { state: 'down', forwarding: 'false', diagnostic: 'Control Detection Time Expired' })],
        ['p3', iface('p3', { [BFD_PEER_MARK]: D })], // BFD not running (yet)
        ['p4', iface('p4', {}, { forwarding: 'true' })], // not ours
      ]),
    );
    expect([...m]).toEqual([
      [B, true],
      [C, false],
    ]);
  });

  it('ensures a fixed-remote key-0 port with BFD per peer and removes only our ports no longer needed', async () => {
    const ensured: [string, string, TunnelPortOptions][] = [];
    const deleted: string[] = [];
    const vs = {
      ensureTunnelPort: (bridge: string, type: string, o: TunnelPortOptions) => {
        ensured.push([bridge, type, o]);
        return Promise.resolve({ created: true, changed: [] });
      },
      deletePort: (_bridge: string, name: string) => {
        deleted.push(name);
        return Promise.resolve(true);
      },
    } as unknown as VswitchDb;
    const existing = new Map([
      [bfdPortName(B), iface(bfdPortName(B), { [BFD_PEER_MARK]: B })],
      [bfdPortName(D), iface(bfdPortName(D), { [BFD_PEER_MARK]: D })],
      ['operator-port', iface('operator-port', {})],
    ]);
    const r = await ensureBfdPorts(vs, { bridge: 'br-int', type: 'vxlan', localIp: undefined, minTxMs: 100, minRxMs: 150 }, new Map([[B, '192.0.2.2']]), existing, silentLogger());
    expect(ensured).toEqual([['br-int', 'vxlan', { name: bfdPortName(B), remoteIp: '192.0.2.2', key: '0', externalIds: { [BFD_PEER_MARK]: B }, bfd: { enable: 'true', min_tx: '100', min_rx: '150' } }]]);
    expect(deleted).toEqual([bfdPortName(D)]);
    expect(r).toEqual({ added: [bfdPortName(B)], removed: [bfdPortName(D)] });
  });
});
