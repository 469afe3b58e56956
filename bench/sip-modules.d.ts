// The npm `sip` package ships no types; the benchmark reads only these fields of what parse() returns.
declare module 'sip' {
  interface ParsedSipMessage {
    headers: {
      'call-id': string;
      cseq: { seq: number; method: string };
      via: { params: { branch: string } }[];
      from: { params: { tag: string } };
    };
  }
  const sip: { parse(data: Buffer | string): ParsedSipMessage };
  export default sip;
}
