/** The transaction layer (RFC 3261 §17, RFC 6026): its surface for the UA core. */
export { TransactionLayer, type TransactionLayerOptions, type TransactionTransport, type Received, type ClientTransaction, type ServerTransaction, type TransactionCounts } from './transaction-layer.js';
export { InviteClientTransaction, type InviteClientState, type InviteClientTransactionUser } from './invite-client-transaction.js';
export { NonInviteClientTransaction, type NonInviteClientState, type NonInviteClientTransactionUser } from './non-invite-client-transaction.js';
export { InviteServerTransaction, type InviteServerState, type InviteServerTransactionUser } from './invite-server-transaction.js';
export { NonInviteServerTransaction, type NonInviteServerState, type NonInviteServerTransactionUser } from './non-invite-server-transaction.js';
export { createCancel, createNon2xxAck } from './transaction-requests.js';
export { clientKeyOfRequest, clientKeyOfResponse, serverKeyOfRequest } from './transaction-key.js';
export { isReliable, type TransactionContext, type TransactionFailure } from './transaction-context.js';
export { SipTraffic, type TrafficDirection, type TrafficRow } from './sip-traffic.js';
