import { createConnection, type Socket } from 'node:net';
import { OfFramer, decodeMessage, encodeMessage, type OfMessage } from '@dragonflow/openflow';

/** The emulated switch: answers the handshake, flow/group reads and barriers; counts what the controller sends. */
export class EmulatedSwitch {
  private readonly framer = new OfFramer();
  flowMods = 0;
  packetOuts = 0;
  barriers = 0;
  private onPacketOut: (xid: number) => void = () => undefined;

  constructor(
    private readonly socket: Socket,
    private readonly datapathId: bigint,
  ) {
    socket.on('data', (chunk) => {
      for (const f of this.framer.push(chunk)) this.handle(decodeMessage(f));
    });
    socket.on('error', () => undefined);
    this.send({ type: 'hello', xid: 1, version: 4, versions: [4] });
  }

  static connect(path: string, datapathId: bigint): Promise<EmulatedSwitch> {
    return new Promise((resolve, reject) => {
      const s = path.startsWith('tcp:') ? createConnection({ host: '127.0.0.1', port: Number(path.slice(4)) }) : createConnection(path);
      if (path.startsWith('tcp:')) s.setNoDelay(true); // as Open vSwitch does on its side
      s.once('connect', () => resolve(new EmulatedSwitch(s, datapathId)));
      s.once('error', reject);
    });
  }

  set packetOutHandler(fn: (n: number) => void) {
    this.onPacketOut = fn;
  }

  private handle(m: OfMessage): void {
    switch (m.type) {
      case 'features_request':
        this.send({ type: 'features_reply', xid: m.xid, datapathId: this.datapathId, nBuffers: 0, nTables: 254, auxiliaryId: 0, capabilities: 0x4f, reserved: 0 });
        return;
      case 'echo_request':
        this.send({ type: 'echo_reply', xid: m.xid, data: m.data });
        return;
      case 'barrier_request':
        this.barriers++;
        this.send({ type: 'barrier_reply', xid: m.xid });
        return;
      case 'multipart_request': {
        const kind = m.body.kind;
        // What a controller reads back at a connect: an empty switch answers each with nothing.
        const empty = { flow: { kind: 'flow', flows: [] }, group_desc: { kind: 'group_desc', groups: [] }, meter_config: { kind: 'meter_config', meters: [] }, port_desc: { kind: 'port_desc', ports: [] } } as const;
        const body = kind in empty ? empty[kind as keyof typeof empty] : undefined;
        if (body) this.send({ type: 'multipart_reply', xid: m.xid, more: false, body } as OfMessage);
        return;
      }
      case 'flow_mod':
        this.flowMods++;
        return;
      case 'packet_out':
        this.packetOuts++;
        this.onPacketOut(this.packetOuts);
        return;
      default:
        return;
    }
  }

  send(m: OfMessage): void {
    this.socket.write(encodeMessage(m, { validate: false }));
  }

  close(): void {
    this.socket.destroy();
  }
}

