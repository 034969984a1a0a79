/**
 * Our encoder against Open vSwitch's decoder: every message kind and action kind we
 * encode is decoded by `ovs-ofctl ofp-print` into the expected text. Needs Open
 * vSwitch installed (./scripts/setup); fails loudly without it.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { requireBinary } from '@dragonflow/sandbox';
import { beforeAll, describe, expect, test } from 'vitest';
import { bytesToHex, encodeMessage } from '../src/index.js';
import { PRINT_CASES } from './support/ofp-print-cases.js';
import { OFP_PRINT_EXPECTED } from './support/ofp-print-expected.js';

const exec = promisify(execFile);
let ofctl = '';

beforeAll(() => {
  ofctl = requireBinary('ovs-ofctl');
});

async function ofpPrint(hex: string): Promise<string> {
  const { stdout } = await exec(ofctl, ['ofp-print', hex], { encoding: 'utf8' });
  return stdout.trimEnd();
}

describe('ovs-ofctl ofp-print decodes what we encode', () => {
  test('every case has an expected text', () => {
    expect(PRINT_CASES.map(([label]) => label).sort()).toEqual(Object.keys(OFP_PRINT_EXPECTED).sort());
  });

  for (const [label, msg] of PRINT_CASES) {
    test(label, async () => {
      const text = await ofpPrint(bytesToHex(encodeMessage(msg, { validate: false })));
      const expected = OFP_PRINT_EXPECTED[label]!;
      expect(label.includes('not in OVS') ? text.split('\n')[0] : text).toBe(expected);
      if (!label.includes('not in OVS')) expect(text).not.toContain('***');
    });
  }
});
