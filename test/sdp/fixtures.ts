// Realistic bodies as peers send them. Lines are joined with CRLF as on the wire.
const sdp = (...lines: string[]) => `${lines.join('\r\n')}\r\n`;

/** SIPp's built-in UAS offer in a 200 to an INVITE without SDP: one static codec. */
export const SIPP_OFFER = sdp(
  'v=0',
  'o=user1 53655765 2353687637 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 6000 RTP/AVP 0',
  'a=rtpmap:0 PCMU/8000',
);

/** baresip-like: opus, G.722 and G.711 with telephone-event, rtcp-mux, an attribute of its own. */
export const BARESIP_OFFER = sdp(
  'v=0',
  'o=- 1469466591 2587137393 IN IP4 192.168.1.20',
  's=-',
  'c=IN IP4 192.168.1.20',
  't=0 0',
  'a=tool:baresip 1.0.0',
  'm=audio 10000 RTP/AVP 111 9 0 8 101',
  'b=AS:512',
  'a=rtpmap:111 opus/48000/2',
  'a=fmtp:111 stereo=1;sprop-stereo=1',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=rtcp-mux',
  'a=ptime:20',
  'a=sendrecv',
  'a=label:1',
);

/** A softphone with video: audio and video, each with its own c=, dynamic types only. */
export const VIDEO_OFFER = sdp(
  'v=0',
  'o=bob 2890844730 2890844731 IN IP4 198.51.100.7',
  's=Talk',
  't=0 0',
  'm=audio 7078 RTP/AVP 96 8 97',
  'c=IN IP4 198.51.100.7',
  'a=rtpmap:96 OPUS/48000/2',
  'a=rtpmap:97 telephone-event/48000',
  'a=rtcp:7079',
  'm=video 9078 RTP/AVP 98 99',
  'c=IN IP4 198.51.100.8',
  'a=rtpmap:98 H264/90000',
  'a=fmtp:98 profile-level-id=42801F; packetization-mode=1',
  'a=rtpmap:99 VP8/90000',
  'a=rtcp-fb:* nack pli',
  'a=sendrecv',
);

/** An answer that rejects the video stream with port 0 and keeps its m-line. */
export const ANSWER_WITH_REJECTED_VIDEO = sdp(
  'v=0',
  'o=carol 3724394400 3724394405 IN IP4 203.0.113.9',
  's=-',
  'c=IN IP4 203.0.113.9',
  't=0 0',
  'm=audio 5004 RTP/AVP 8 101',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=sendrecv',
  'm=video 0 RTP/AVP 31',
);

/** A gateway offering only G.729 and telephone-event, over IPv6. */
export const G729_IPV6_OFFER = sdp(
  'v=0',
  'o=gw 1 1 IN IP6 2001:db8::1',
  's=-',
  'c=IN IP6 2001:db8::1',
  't=0 0',
  'm=audio 20000 RTP/AVP 18 101',
  'a=rtpmap:18 G729/8000',
  'a=fmtp:18 annexb=no',
  'a=rtpmap:101 telephone-event/8000',
  'a=sendrecv',
);

export { sdp };
