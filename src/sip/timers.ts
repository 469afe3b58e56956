/** RFC 3261 §17 and Table 4: the protocol timers, in milliseconds. */
export interface TimerValues {
  /** RTT estimate. */
  T1: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses. */
  T2: number;
  /** Maximum duration a message remains in the network. */
  T4: number;
}

export const defaultTimerValues: TimerValues = { T1: 500, T2: 4000, T4: 5000 };

export function timerB(t: TimerValues): number {
  return 64 * t.T1;
}
export function timerD(t: TimerValues, reliable: boolean): number {
  // RFC 3261 §17.1.1.2: at least 32 s for unreliable transports, 0 for reliable. 64*T1 is
  // exactly 32 s at the default T1 and scales with it, so tests that shorten T1 shorten D too.
  return reliable ? 0 : 64 * t.T1;
}
export function timerF(t: TimerValues): number {
  return 64 * t.T1;
}
export function timerH(t: TimerValues): number {
  return 64 * t.T1;
}
export function timerI(t: TimerValues, reliable: boolean): number {
  return reliable ? 0 : t.T4;
}
export function timerJ(t: TimerValues, reliable: boolean): number {
  return reliable ? 0 : 64 * t.T1;
}
export function timerK(t: TimerValues, reliable: boolean): number {
  return reliable ? 0 : t.T4;
}
/** RFC 6026 §8.4: Timer L (accepted state of the INVITE server transaction). */
export function timerL(t: TimerValues): number {
  return 64 * t.T1;
}
/** RFC 6026 §8.4: Timer M (accepted state of the INVITE client transaction). */
export function timerM(t: TimerValues): number {
  return 64 * t.T1;
}
