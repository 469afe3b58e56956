import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  EUROPEAN_RINGBACK,
  G711_SILENCE,
  NORTH_AMERICAN_RINGBACK,
  UK_RINGBACK,
  createToneFrames,
  encodeALaw,
  encodeMuLaw,
  renderRingbackCycle,
  type G711Encoding,
  type ToneFrames,
} from '../../../src/engine/ringback/index.js';
import { dbm0, decode, decodeALaw, decodeMuLaw, goertzelAmplitude } from './g711-decode.js';

// [16-bit linear, μ-law, A-law], from CPython 3.11 audioop.lin2ulaw / lin2alaw (which implement
// the Sun Microsystems reference g711.c), one value or more per segment and both signs.
const KNOWN_CODES: ReadonlyArray<readonly [number, number, number]> = [
  [0, 0xff, 0xd5],
  [1, 0xff, 0xd5],
  [-1, 0x7e, 0x55],
  [4, 0xfe, 0xd5],
  [-8, 0x7e, 0x55],
  [100, 0xf2, 0xd3],
  [-100, 0x72, 0x53],
  [132, 0xef, 0xdd],
  [-132, 0x6f, 0x5d],
  [1000, 0xce, 0xfa],
  [-1000, 0x4e, 0x7a],
  [4000, 0xaf, 0x9a],
  [-4000, 0x2f, 0x1a],
  [8000, 0xa0, 0x8a],
  [-8000, 0x20, 0x0a],
  [16000, 0x90, 0xba],
  [-16000, 0x10, 0x3a],
  [32124, 0x80, 0xaa],
  [32767, 0x80, 0xaa],
  [-32768, 0x00, 0x2a],
];

/** SHA-256 of the codes of every 16-bit sample from -32768 to 32767, from the same audioop. */
const ALL_SAMPLES_SHA256 = {
  PCMU: '81d633c9e6972a18c74a58720b96cb8ca0bdd096d4060b646dd708c3b846019a',
  PCMA: '38488f6fd710f4686360edc4d38639f96c491595ef93f8eb8d62d5e07ca6ce7b',
};

/** 200 ms: 5 Hz bins, so 400, 425, 440, 450 and 480 Hz are each a whole number of cycles. */
const BLOCK_FRAMES = 10;

function samplesOf(tone: ToneFrames, firstFrame: number, frameCount = BLOCK_FRAMES): number[] {
  return tone.frames.slice(firstFrame, firstFrame + frameCount).flatMap((frame) => decode(frame, tone.encoding));
}

function isSilent(frame: Buffer, encoding: G711Encoding): boolean {
  return frame.every((code) => code === G711_SILENCE[encoding]);
}

describe('G.711 encoders (ITU-T G.711)', () => {
  it('codes zero as 0xFF in μ-law and 0xD5 in A-law', () => {
    assert.equal(encodeMuLaw(0), 0xff);
    assert.equal(encodeALaw(0), 0xd5);
  });

  it('matches the reference codes in every segment, both signs', () => {
    for (const [sample, muLaw, aLaw] of KNOWN_CODES) {
      assert.equal(encodeMuLaw(sample), muLaw, `μ-law of ${sample}`);
      assert.equal(encodeALaw(sample), aLaw, `A-law of ${sample}`);
    }
  });

  it('matches the reference for all 65536 sixteen-bit samples', () => {
    for (const [encoding, encode] of [['PCMU', encodeMuLaw], ['PCMA', encodeALaw]] as const) {
      const codes = Buffer.alloc(65_536);
      for (let sample = -32_768; sample <= 32_767; sample++) codes[sample + 32_768] = encode(sample);
      assert.equal(createHash('sha256').update(codes).digest('hex'), ALL_SAMPLES_SHA256[encoding], encoding);
    }
  });

  it('decodes back to within one quantization step (checks the segment tables)', () => {
    for (let sample = -32_000; sample <= 32_000; sample += 7) {
      const magnitude = Math.abs(sample);
      // G.711 steps double per segment: the error is at most half a step, 1/32 of the magnitude.
      const tolerance = Math.max(16, magnitude / 16);
      assert.ok(Math.abs(decodeMuLaw(encodeMuLaw(sample)) - sample) <= tolerance, `μ-law ${sample}`);
      assert.ok(Math.abs(decodeALaw(encodeALaw(sample)) - sample) <= tolerance, `A-law ${sample}`);
    }
  });

  it('clips beyond full scale instead of wrapping', () => {
    assert.equal(encodeMuLaw(40_000), 0x80);
    assert.equal(encodeMuLaw(-40_000), 0x00);
    assert.equal(encodeALaw(40_000), 0xaa);
    assert.equal(encodeALaw(-40_000), 0x2a);
  });

  it('test decoders agree with the reference decoding of the extreme codes', () => {
    assert.deepEqual([0x00, 0x7f, 0x80, 0xff, 0x7e, 0xfe].map(decodeMuLaw), [-32124, 0, 32124, 0, -8, 8]);
    assert.deepEqual([0x55, 0xd5, 0x2a, 0xaa, 0x54, 0xd4].map(decodeALaw), [-8, 8, -32256, 32256, -24, 24]);
  });
});

describe('ringback tone frames', () => {
  for (const encoding of ['PCMU', 'PCMA'] as const) {
    it(`North American ringback in ${encoding}: 440 + 480 Hz at -19 dBm0 each for 2 s, then 4 s of silence`, () => {
      const tone = createToneFrames(NORTH_AMERICAN_RINGBACK, encoding);
      assert.equal(tone.frames.length, 300);
      assert.ok(tone.frames.every((frame) => frame.length === 160));
      for (const first of [0, 10, 50, 90]) {
        const samples = samplesOf(tone, first);
        for (const frequency of [440, 480]) {
          const level = dbm0(goertzelAmplitude(samples, frequency));
          // The first 4 ms fade in; over 200 ms that costs a fraction of a dB.
          assert.ok(Math.abs(level + 19) < (first === 0 ? 0.6 : 0.3), `${frequency} Hz at frame ${first}: ${level.toFixed(2)} dBm0`);
        }
        // Nothing at the neighbouring precise tones (dial 350, busy 620) nor elsewhere.
        for (const frequency of [350, 400, 620, 1000]) {
          assert.ok(dbm0(goertzelAmplitude(samples, frequency)) < -45, `${frequency} Hz at frame ${first}`);
        }
      }
      for (let index = 0; index < 100; index++) assert.ok(!isSilent(tone.frames[index]!, encoding), `frame ${index} sounds`);
      for (let index = 100; index < 300; index++) assert.ok(isSilent(tone.frames[index]!, encoding), `frame ${index} is silent`);
    });
  }

  it('European ringback: 425 Hz for 1 s, 4 s of silence', () => {
    const tone = createToneFrames(EUROPEAN_RINGBACK, 'PCMA');
    assert.equal(tone.frames.length, 250);
    const samples = samplesOf(tone, 20);
    assert.ok(Math.abs(dbm0(goertzelAmplitude(samples, 425)) + 19) < 0.3);
    assert.ok(dbm0(goertzelAmplitude(samples, 440)) < -45);
    for (let index = 0; index < 50; index++) assert.ok(!isSilent(tone.frames[index]!, 'PCMA'), `frame ${index} sounds`);
    for (let index = 50; index < 250; index++) assert.ok(isSilent(tone.frames[index]!, 'PCMA'), `frame ${index} is silent`);
  });

  it('follows a cadence of several bursts (UK: 0.4 s on, 0.2 s off, 0.4 s on, 2 s off)', () => {
    const tone = createToneFrames(UK_RINGBACK, 'PCMU');
    assert.equal(tone.frames.length, 150);
    const sounding = tone.frames.map((frame) => !isSilent(frame, 'PCMU'));
    const expected = Array.from({ length: 150 }, (_, index) => index < 20 || (index >= 30 && index < 50));
    assert.deepEqual(sounding, expected);
    const samples = samplesOf(tone, 5);
    assert.ok(Math.abs(dbm0(goertzelAmplitude(samples, 400)) + 19) < 0.3);
    assert.ok(Math.abs(dbm0(goertzelAmplitude(samples, 450)) + 19) < 0.3);
  });

  it('does not clip: the two tones peak at twice -19 dBm0, far below full scale', () => {
    const samples = renderRingbackCycle(NORTH_AMERICAN_RINGBACK);
    const peak = samples.reduce((max, sample) => Math.max(max, Math.abs(sample)), 0);
    const perTone = 22_700 * 10 ** (-19 / 20);
    assert.ok(peak <= 2 * perTone + 1 && peak > 1.9 * perTone, `peak ${peak}`);
  });

  it('fades each burst in and out instead of switching mid-wave', () => {
    const samples = renderRingbackCycle(NORTH_AMERICAN_RINGBACK);
    assert.equal(samples[0], 0);
    assert.ok(Math.abs(samples[15_999]!) < 5, `last sample of the burst: ${samples[15_999]}`);
  });

  it('refuses tone plans it cannot play', () => {
    assert.throws(() => renderRingbackCycle({ frequencies: [440], cadenceMs: [2000] }), RangeError);
    assert.throws(() => renderRingbackCycle({ frequencies: [440], cadenceMs: [2000, 4010] }), RangeError);
    assert.throws(() => renderRingbackCycle({ frequencies: [4000], cadenceMs: [2000, 4000] }), RangeError);
    assert.throws(() => renderRingbackCycle({ frequencies: [], cadenceMs: [2000, 4000] }), RangeError);
    assert.throws(() => renderRingbackCycle({ frequencies: [440, 480], cadenceMs: [2000, 4000], levelDbm0: 0 }), /clip/);
  });
});
