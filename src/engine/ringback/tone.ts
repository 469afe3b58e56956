/**
 * The ringback tone as G.711 frames (ITU-T G.711, ITU-T E.180). Everything here is pure and runs
 * once per player: one whole cadence cycle is rendered and encoded up front, so that sending a
 * packet is a buffer copy and never a sine or a log.
 */

/** The two G.711 encodings of RFC 3551 §4.5.14 (static payload types 0 and 8). */
export type G711Encoding = 'PCMU' | 'PCMA';

/** RFC 3551 §4.5.14: G.711 is sampled at 8 kHz. */
export const G711_SAMPLE_RATE = 8000;
/** RFC 3551 §4.5: 20 ms is the default packetization interval of audio. */
export const FRAME_MS = 20;
export const SAMPLES_PER_FRAME = (G711_SAMPLE_RATE * FRAME_MS) / 1000;

/** What an idle line sounds like: positive zero in each encoding. */
export const G711_SILENCE: Readonly<Record<G711Encoding, number>> = { PCMU: 0xff, PCMA: 0xd5 };

/**
 * A tone plan: the frequencies sounded together and the cadence, as alternating on and off
 * durations in milliseconds starting with "on" (so always an even number of entries).
 */
export interface RingbackToneSpec {
  frequencies: readonly number[];
  cadenceMs: readonly number[];
  /** Level of each frequency, in dBm0. Default -19. */
  levelDbm0?: number;
}

/** ITU-T E.180 Suppl. 2, North America (the "precise tone plan"): 440 + 480 Hz, 2 s on, 4 s off. */
export const NORTH_AMERICAN_RINGBACK: RingbackToneSpec = { frequencies: [440, 480], cadenceMs: [2000, 4000], levelDbm0: -19 };
/** CEPT (ETSI TR 101 041): 425 Hz, 1 s on, 4 s off, as most of Europe rings. */
export const EUROPEAN_RINGBACK: RingbackToneSpec = { frequencies: [425], cadenceMs: [1000, 4000], levelDbm0: -19 };
/** United Kingdom: 400 + 450 Hz, 0.4 s on, 0.2 s off, 0.4 s on, 2 s off. */
export const UK_RINGBACK: RingbackToneSpec = { frequencies: [400, 450], cadenceMs: [400, 200, 400, 2000], levelDbm0: -19 };

const DEFAULT_LEVEL_DBM0 = -19;
/**
 * Peak of a 0 dBm0 sine in 16-bit linear PCM. G.711 puts the coder's overload point 3.14 dB
 * (A-law) or 3.17 dB (μ-law) above 0 dBm0; 22 700 is within 0.03 dB of both.
 */
const ZERO_DBM0_PEAK = 22_700;
const MAX_LINEAR = 32_767;
/**
 * Each burst fades in and out over this long (raised cosine): a tone switched on or off
 * mid-wave clicks.
 */
const RAMP_MS = 4;

// ITU-T G.711 as in the Sun Microsystems reference g711.c (which CPython's audioop also uses):
// the upper bounds of the eight segments, on the 14-bit (μ-law) and 13-bit (A-law) scales.
const MU_LAW_SEGMENT_END = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff] as const;
const A_LAW_SEGMENT_END = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff] as const;
/** G.711 μ-law: the bias added before the segment search, on the 14-bit scale (0x84 >> 2). */
const MU_LAW_BIAS = 0x21;
const MU_LAW_CLIP = 8159;

function segmentOf(magnitude: number, ends: readonly number[]): number {
  for (let segment = 0; segment < ends.length; segment++) {
    if (magnitude <= ends[segment]!) return segment;
  }
  return ends.length;
}

function toInt16(sample: number): number {
  const rounded = Math.round(sample);
  return rounded > MAX_LINEAR ? MAX_LINEAR : rounded < -32_768 ? -32_768 : rounded;
}

/** ITU-T G.711 μ-law code of a 16-bit linear sample (the 14 most significant bits are coded). */
export function encodeMuLaw(sample: number): number {
  let value = toInt16(sample) >> 2;
  let mask: number;
  if (value < 0) {
    value = -value;
    mask = 0x7f;
  } else {
    mask = 0xff;
  }
  if (value > MU_LAW_CLIP) value = MU_LAW_CLIP;
  value += MU_LAW_BIAS;
  const segment = segmentOf(value, MU_LAW_SEGMENT_END);
  if (segment >= 8) return 0x7f ^ mask;
  // G.711: the sign, three bits of segment and four of step, all inverted on the line.
  return ((segment << 4) | ((value >> (segment + 1)) & 0x0f)) ^ mask;
}

/** ITU-T G.711 A-law code of a 16-bit linear sample (the 13 most significant bits are coded). */
export function encodeALaw(sample: number): number {
  let value = toInt16(sample) >> 3;
  let mask: number;
  if (value >= 0) {
    mask = 0xd5;
  } else {
    mask = 0x55;
    value = -value - 1;
  }
  const segment = segmentOf(value, A_LAW_SEGMENT_END);
  if (segment >= 8) return 0x7f ^ mask;
  const step = segment < 2 ? (value >> 1) & 0x0f : (value >> segment) & 0x0f;
  // G.711: the even bits are inverted on the line (the 0x55 in the mask).
  return ((segment << 4) | step) ^ mask;
}

/** Validates a tone plan; returns the number of samples in one cadence cycle. */
function cycleSamples(spec: RingbackToneSpec): number {
  const { frequencies, cadenceMs } = spec;
  if (frequencies.length === 0) throw new RangeError('a ringback tone needs at least one frequency');
  for (const frequency of frequencies) {
    if (!Number.isFinite(frequency) || frequency <= 0 || frequency >= G711_SAMPLE_RATE / 2) {
      throw new RangeError(`ringback frequency must be between 0 and ${G711_SAMPLE_RATE / 2} Hz, not ${frequency}`);
    }
  }
  if (cadenceMs.length === 0 || cadenceMs.length % 2 !== 0) {
    throw new RangeError('a ringback cadence is pairs of on and off durations');
  }
  for (const duration of cadenceMs) {
    if (!Number.isInteger(duration) || duration <= 0) throw new RangeError(`cadence durations are whole positive milliseconds, not ${duration}`);
  }
  const totalMs = cadenceMs.reduce((sum, duration) => sum + duration, 0);
  // The cycle repeats frame by frame, so it must end on a frame boundary.
  if (totalMs % FRAME_MS !== 0) throw new RangeError(`a ringback cadence cycle must last a multiple of ${FRAME_MS} ms, not ${totalMs} ms`);
  const level = spec.levelDbm0 ?? DEFAULT_LEVEL_DBM0;
  if (!Number.isFinite(level)) throw new RangeError(`ringback level must be a number of dBm0, not ${level}`);
  if (toneAmplitude(level) * frequencies.length > MAX_LINEAR) {
    throw new RangeError(`${frequencies.length} tones at ${level} dBm0 each would clip`);
  }
  return (totalMs * G711_SAMPLE_RATE) / 1000;
}

function toneAmplitude(levelDbm0: number): number {
  return ZERO_DBM0_PEAK * 10 ** (levelDbm0 / 20);
}

/** One cadence cycle of the tone as 16-bit linear PCM at 8 kHz, starting at the first burst. */
export function renderRingbackCycle(spec: RingbackToneSpec = NORTH_AMERICAN_RINGBACK): Int16Array {
  const samples = new Int16Array(cycleSamples(spec));
  const amplitude = toneAmplitude(spec.levelDbm0 ?? DEFAULT_LEVEL_DBM0);
  const steps = spec.frequencies.map((frequency) => (2 * Math.PI * frequency) / G711_SAMPLE_RATE);
  let start = 0;
  for (let index = 0; index < spec.cadenceMs.length; index += 2) {
    const onSamples = (spec.cadenceMs[index]! * G711_SAMPLE_RATE) / 1000;
    const offSamples = (spec.cadenceMs[index + 1]! * G711_SAMPLE_RATE) / 1000;
    const ramp = Math.min((RAMP_MS * G711_SAMPLE_RATE) / 1000, Math.floor(onSamples / 2));
    for (let n = 0; n < onSamples; n++) {
      let sum = 0;
      // Each burst starts at phase 0, so the cycle may wrap anywhere without a discontinuity.
      for (const step of steps) sum += Math.sin(step * n);
      const edge = Math.min(n, onSamples - 1 - n);
      const envelope = edge < ramp ? 0.5 - 0.5 * Math.cos((Math.PI * edge) / ramp) : 1;
      samples[start + n] = toInt16(amplitude * envelope * sum);
    }
    start += onSamples + offSamples; // the off part stays zero
  }
  return samples;
}

/** Linear PCM encoded sample by sample. */
export function encodeG711(samples: ArrayLike<number>, encoding: G711Encoding): Buffer {
  const encode = encoding === 'PCMU' ? encodeMuLaw : encodeALaw;
  const encoded = Buffer.alloc(samples.length);
  for (let index = 0; index < samples.length; index++) encoded[index] = encode(samples[index]!);
  return encoded;
}

/** One cadence cycle, encoded and cut into 20 ms frames of 160 bytes (views of one buffer). */
export interface ToneFrames {
  encoding: G711Encoding;
  frames: readonly Buffer[];
}

export function createToneFrames(spec: RingbackToneSpec, encoding: G711Encoding): ToneFrames {
  return framesOf(encodeG711(renderRingbackCycle(spec), encoding), encoding);
}

function framesOf(cycle: Buffer, encoding: G711Encoding): ToneFrames {
  const frames: Buffer[] = [];
  for (let offset = 0; offset < cycle.length; offset += SAMPLES_PER_FRAME) {
    frames.push(cycle.subarray(offset, offset + SAMPLES_PER_FRAME));
  }
  return { encoding, frames };
}

/** The tone frames in both encodings, rendered once. */
export function createToneFrameSet(spec: RingbackToneSpec = NORTH_AMERICAN_RINGBACK): Readonly<Record<G711Encoding, ToneFrames>> {
  const samples = renderRingbackCycle(spec);
  return {
    PCMU: framesOf(encodeG711(samples, 'PCMU'), 'PCMU'),
    PCMA: framesOf(encodeG711(samples, 'PCMA'), 'PCMA'),
  };
}
