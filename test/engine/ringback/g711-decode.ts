// Test-side readers of what the ringback sender produces: G.711 decoders (the Sun reference
// g711.c, independent of the encoders under test), a Goertzel filter and an RTP header reader.

/** G.711 μ-law code to 16-bit linear. */
export function decodeMuLaw(code: number): number {
  const inverted = ~code & 0xff;
  let magnitude = ((inverted & 0x0f) << 3) + 0x84;
  magnitude <<= (inverted & 0x70) >> 4;
  return inverted & 0x80 ? 0x84 - magnitude : magnitude - 0x84;
}

/** G.711 A-law code to 16-bit linear. */
export function decodeALaw(code: number): number {
  const value = code ^ 0x55;
  const segment = (value & 0x70) >> 4;
  let magnitude = (value & 0x0f) << 4;
  if (segment === 0) magnitude += 8;
  else if (segment === 1) magnitude += 0x108;
  else magnitude = (magnitude + 0x108) << (segment - 1);
  return value & 0x80 ? magnitude : -magnitude;
}

export function decode(bytes: Uint8Array, encoding: 'PCMU' | 'PCMA'): number[] {
  const decodeOne = encoding === 'PCMU' ? decodeMuLaw : decodeALaw;
  return Array.from(bytes, decodeOne);
}

/**
 * The amplitude of the `frequency` component of `samples` (Goertzel). Exact for a sine whose
 * frequency is a whole number of cycles over the block: choose the block length so it is.
 */
export function goertzelAmplitude(samples: readonly number[], frequency: number, sampleRate = 8000): number {
  const coefficient = 2 * Math.cos((2 * Math.PI * frequency) / sampleRate);
  let previous = 0;
  let beforePrevious = 0;
  for (const sample of samples) {
    const current = sample + coefficient * previous - beforePrevious;
    beforePrevious = previous;
    previous = current;
  }
  const power = previous * previous + beforePrevious * beforePrevious - coefficient * previous * beforePrevious;
  return (2 * Math.sqrt(Math.max(0, power))) / samples.length;
}

/** 16-bit linear peak of a 0 dBm0 sine, as the tone generator assumes. */
export const ZERO_DBM0_PEAK = 22_700;
export const dbm0 = (amplitude: number) => 20 * Math.log10(amplitude / ZERO_DBM0_PEAK);

export interface ReadRtpPacket {
  version: number;
  padding: boolean;
  extension: boolean;
  csrcCount: number;
  marker: boolean;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
}

/** RFC 3550 §5.1, read field by field. */
export function readRtpPacket(packet: Buffer): ReadRtpPacket {
  return {
    version: packet[0]! >> 6,
    padding: (packet[0]! & 0x20) !== 0,
    extension: (packet[0]! & 0x10) !== 0,
    csrcCount: packet[0]! & 0x0f,
    marker: (packet[1]! & 0x80) !== 0,
    payloadType: packet[1]! & 0x7f,
    sequenceNumber: packet.readUInt16BE(2),
    timestamp: packet.readUInt32BE(4),
    ssrc: packet.readUInt32BE(8),
    payload: packet.subarray(12),
  };
}
