/** Realistic messages of one call leg, as a UA or proxy would see them on the wire. */
const SDP = [
  'v=0',
  'o=alice 2890844526 2890844526 IN IP4 192.0.2.10',
  's=-',
  'c=IN IP4 192.0.2.10',
  't=0 0',
  'm=audio 49170 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=ptime:20',
  'a=sendrecv',
  '',
].join('\r\n');

function message(lines: string[], body = ''): string {
  return [...lines, `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n');
}

const common = [
  'From: "Alice Liddell" <sip:alice@atlanta.example.com>;tag=9fxced76sl',
  'Call-ID: 3848276298220188511@atlanta.example.com',
];

export const corpus: string[] = [
  message(
    [
      'INVITE sip:bob@biloxi.example.com SIP/2.0',
      'Via: SIP/2.0/UDP proxy.atlanta.example.com:5060;branch=z9hG4bK2d4790.1;rport',
      'Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9;received=192.0.2.101;rport=5060',
      'Max-Forwards: 69',
      'Record-Route: <sip:proxy.atlanta.example.com;lr>',
      'To: Bob <sip:bob@biloxi.example.com>',
      ...common,
      'CSeq: 1 INVITE',
      'Contact: <sip:alice@client.atlanta.example.com;transport=udp>',
      'Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, INFO, UPDATE, PRACK',
      'Supported: replaces, timer, 100rel',
      'User-Agent: Example UA 1.0',
      'Content-Type: application/sdp',
    ],
    SDP,
  ),
  message([
    'SIP/2.0 180 Ringing',
    'Via: SIP/2.0/UDP proxy.atlanta.example.com:5060;branch=z9hG4bK2d4790.1;rport=5060;received=192.0.2.1',
    'Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9;received=192.0.2.101;rport=5060',
    'Record-Route: <sip:proxy.atlanta.example.com;lr>',
    'To: Bob <sip:bob@biloxi.example.com>;tag=8321234356',
    ...common,
    'CSeq: 1 INVITE',
    'Contact: <sip:bob@192.0.2.4>',
  ]),
  message(
    [
      'SIP/2.0 200 OK',
      'Via: SIP/2.0/UDP proxy.atlanta.example.com:5060;branch=z9hG4bK2d4790.1;rport=5060;received=192.0.2.1',
      'Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9;received=192.0.2.101;rport=5060',
      'Record-Route: <sip:proxy.atlanta.example.com;lr>',
      'To: Bob <sip:bob@biloxi.example.com>;tag=8321234356',
      ...common,
      'CSeq: 1 INVITE',
      'Contact: <sip:bob@192.0.2.4>',
      'Allow: INVITE, ACK, CANCEL, OPTIONS, BYE',
      'Content-Type: application/sdp',
    ],
    SDP.replace(/alice/g, 'bob').replace(/192\.0\.2\.10/g, '192.0.2.4'),
  ),
  message([
    'ACK sip:bob@192.0.2.4 SIP/2.0',
    'Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bd5;rport',
    'Max-Forwards: 70',
    'Route: <sip:proxy.atlanta.example.com;lr>',
    'To: Bob <sip:bob@biloxi.example.com>;tag=8321234356',
    ...common,
    'CSeq: 1 ACK',
  ]),
  message([
    'BYE sip:bob@192.0.2.4 SIP/2.0',
    'Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bd6;rport',
    'Max-Forwards: 70',
    'Route: <sip:proxy.atlanta.example.com;lr>',
    'To: Bob <sip:bob@biloxi.example.com>;tag=8321234356',
    ...common,
    'CSeq: 2 BYE',
  ]),
];
