/** The transport layer's surface (RFC 3261 §18). Everything else in this folder is internal. */
export { TransportLayer } from './transport-layer.js';
export type {
  TransportLayerOptions,
  TransportLayerEvents,
  InboundMessage,
  MalformedMessage,
  DroppedResponse,
  TransportErrorEvent,
  SendResult,
  TransportStats,
  TrafficCounters,
} from './transport-layer.js';
export { TransportError, type TransportErrorCode, type TransportErrorContext } from './transport-error.js';
export { responseTarget, type ResponseTarget, type RequestConnection } from './response-target.js';
export { formatVia, newBranch } from './top-via.js';
export { defaultPort, type Destination, type Source, type TransportName } from './address.js';
export type { TcpConnectionInfo, TcpCloseReason, TcpSocketFactories } from './tcp-transport.js';
export type { CreateUdpSocket, UdpSocket } from './udp-transport.js';
