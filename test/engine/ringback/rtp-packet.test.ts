import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RTP_HEADER_LENGTH, writeRtpHeader } from '../../../src/engine/ringback/index.js';

describe('RTP header (RFC 3550 §5.1)', () => {
  it('writes V=2, P=0, X=0, CC=0, M, PT, sequence number, timestamp and SSRC, big-endian', () => {
    const packet = Buffer.alloc(RTP_HEADER_LENGTH);
    const end = writeRtpHeader(packet, { marker: true, payloadType: 8, sequenceNumber: 0x1234, timestamp: 0xdeadbeef, ssrc: 0x01020304 });
    assert.equal(end, 12);
    assert.deepEqual([...packet], [0x80, 0x88, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04]);
  });

  it('leaves the marker bit clear when not asked for, with payload type 0', () => {
    const packet = Buffer.alloc(RTP_HEADER_LENGTH);
    writeRtpHeader(packet, { marker: false, payloadType: 0, sequenceNumber: 1, timestamp: 160, ssrc: 0xffffffff });
    assert.deepEqual([...packet], [0x80, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0xa0, 0xff, 0xff, 0xff, 0xff]);
  });

  it('keeps a dynamic payload type out of the marker bit and masks values to their fields', () => {
    const packet = Buffer.alloc(RTP_HEADER_LENGTH);
    writeRtpHeader(packet, { marker: false, payloadType: 127, sequenceNumber: 0x1_0001, timestamp: 2 ** 32 + 5, ssrc: 7 });
    assert.equal(packet[1], 0x7f);
    assert.equal(packet.readUInt16BE(2), 1);
    assert.equal(packet.readUInt32BE(4), 5);
  });

  it('writes at an offset and leaves the rest of the buffer alone', () => {
    const packet = Buffer.alloc(20, 0xaa);
    assert.equal(writeRtpHeader(packet, { marker: false, payloadType: 0, sequenceNumber: 0, timestamp: 0, ssrc: 0 }, 4), 16);
    assert.deepEqual([...packet.subarray(0, 4)], [0xaa, 0xaa, 0xaa, 0xaa]);
    assert.equal(packet[4], 0x80);
    assert.deepEqual([...packet.subarray(16)], [0xaa, 0xaa, 0xaa, 0xaa]);
  });

  it('refuses a buffer too short for the header', () => {
    assert.throws(() => writeRtpHeader(Buffer.alloc(11), { marker: false, payloadType: 0, sequenceNumber: 0, timestamp: 0, ssrc: 0 }), RangeError);
  });
});
