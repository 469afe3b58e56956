/**
 * The one UDP socket the ringback player sends from. Its address and port are what the held
 * answer to A names (RFC 3725 Flow III), so one socket serves every ringing call: A's media is
 * told where the packets come from, and RTP (RFC 3550 §3) tells the streams apart by SSRC, not
 * by port.
 */
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';

/** Reports the outcome of one send: null when the datagram left, the error when it did not. */
export type SendCallback = (error: Error | null) => void;

/** The part of a UDP socket the player uses, so that tests can hand in a fake. */
export interface RingbackSocket {
  /**
   * Sends one datagram. The socket reports the outcome to `callback` exactly once (a failure may
   * also be thrown, which the player counts the same way).
   */
  send(packet: Buffer, port: number, address: string, callback: SendCallback): void;
  address(): { address: string; port: number };
  close(): void;
}

export interface UdpRingbackSocketOptions {
  /**
   * Failures the socket reports outside any send. Sends carry their own callback, so on an
   * unconnected socket that only sends there is nothing else to report; this is here so that
   * nothing is dropped unseen.
   */
  onError?: (error: Error) => void;
}

/** Binds a UDP socket on `host` (port 0: any free port) and resolves once it is bound. */
export function createUdpRingbackSocket(host: string, port = 0, options: UdpRingbackSocketOptions = {}): Promise<RingbackSocket> {
  const socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
  return new Promise((resolve, reject) => {
    const onBindError = (error: Error): void => {
      socket.close();
      reject(error);
    };
    socket.once('error', onBindError);
    socket.bind({ address: host, port, exclusive: true }, () => {
      socket.off('error', onBindError);
      socket.on('error', (error) => options.onError?.(error));
      let open = true;
      resolve({
        send: (packet, toPort, toAddress, callback) => socket.send(packet, toPort, toAddress, callback),
        address: () => {
          const bound = socket.address();
          return { address: bound.address, port: bound.port };
        },
        close: () => {
          if (!open) return;
          open = false;
          socket.close();
        },
      });
    });
  });
}
