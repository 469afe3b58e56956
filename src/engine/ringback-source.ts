/**
 * What the engine needs of a ringback tone sender (DESIGN.md "ringback"): an RTP source whose
 * address goes into the held answer to A, playing a G.711 tone to A until B's offer moves A's
 * media to B. `src/engine/ringback/` has the implementation.
 */
export interface RingbackHandle {
  stop(): void;
}

export interface RingbackSource {
  /** The address and port the held answer names (where A sends its RTP, ignored). */
  localAddress(): { address: string; port: number };
  play(stream: { address: string; port: number; payloadType: number; codec: 'PCMU' | 'PCMA' }): RingbackHandle;
}
