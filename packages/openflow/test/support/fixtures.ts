import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeMessage, hexToBytes, type OfMessage } from '../../src/index.js';

export interface Fixture {
  readonly name: string;
  readonly command: string;
  readonly messages: readonly string[];
}

const DIR = join(import.meta.dirname, '..', 'fixtures');

/** Fixtures captured from ovs-ofctl (controller→switch) or ovs-vswitchd (switch→controller). */
export function loadFixtures(source: 'ovs-ofctl' | 'ovs-vswitchd'): Fixture[] {
  return JSON.parse(readFileSync(join(DIR, `${source}.json`), 'utf8')) as Fixture[];
}

export function allFixtureFrames(): { name: string; bytes: Uint8Array }[] {
  return [...loadFixtures('ovs-ofctl'), ...loadFixtures('ovs-vswitchd')].flatMap((f) => f.messages.map((h, i) => ({ name: `${f.name}#${i}`, bytes: hexToBytes(h) })));
}

export function decodedFixture(fixtures: Fixture[], name: string): OfMessage[] {
  const f = fixtures.find((x) => x.name === name);
  if (!f) throw new Error(`no fixture named ${name}`);
  return f.messages.map((h) => decodeMessage(hexToBytes(h)));
}
