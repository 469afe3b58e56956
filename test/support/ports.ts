/**
 * Ports for tests that run real peers (SIPp, baresip, Kamailio) on 127.0.0.1.
 *
 * freePortBlock() picks a block of consecutive ports, free for both UDP and TCP when chosen, at a
 * random base in 20000–31999: below Linux's ephemeral range (32768–60999, where port-0 sockets
 * of other tests land) and above the fixed ports peers like to use (5060, SIPp's control port
 * 8888 and up). Bases are multiples of 10, so blocks of up to 10 ports from concurrently running
 * tests never overlap; a collision needs the same random base and is caught by the check unless
 * both tests check before either binds. Callers bind the ports themselves (nothing is reserved).
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

export const LOOPBACK = '127.0.0.1';

export type PortKind = 'udp' | 'tcp';

const RANGE_START = 20000;
const RANGE_END = 32000;
const BASE_STEP = 10;
const ATTEMPTS = 50;

/** First port of `size` consecutive ports that are free for UDP and TCP on 127.0.0.1. */
export async function freePortBlock(size: number): Promise<number> {
  if (!Number.isInteger(size) || size < 1 || size > RANGE_END - RANGE_START) {
    throw new RangeError(`port block size must be an integer from 1 to ${RANGE_END - RANGE_START}: ${size}`);
  }
  const bases = Math.floor((RANGE_END - RANGE_START - size) / BASE_STEP) + 1;
  for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) {
    const base = RANGE_START + Math.floor(Math.random() * bases) * BASE_STEP;
    let free = true;
    for (let port = base; port < base + size && free; port += 1) {
      free = (await canBind('udp', port)) && (await canBind('tcp', port));
    }
    if (free) return base;
  }
  throw new Error(`no block of ${size} free ports found in ${RANGE_START}-${RANGE_END - 1} after ${ATTEMPTS} attempts`);
}

/** Whether a UDP socket or TCP listener can bind `host:port` right now (it is closed again at once). */
export function canBind(kind: PortKind, port: number, host: string = LOOPBACK): Promise<boolean> {
  return new Promise((resolve) => {
    if (kind === 'udp') {
      const socket = createSocket('udp4');
      socket.once('error', () => {
        socket.close();
        resolve(false);
      });
      socket.bind(port, host, () => socket.close(() => resolve(true)));
    } else {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, host, () => server.close(() => resolve(true)));
    }
  });
}
