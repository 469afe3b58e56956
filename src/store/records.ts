/** Rows as Prisma returns them, turned into the store's public records (model.ts). */
import type * as Rows from './generated/prisma/client.js';
import type {
  Account,
  ApiKey,
  Call,
  CallEventRecord,
  CallStatus,
  Engine,
  Flow,
  JsonObject,
  Leg,
  LegName,
  LegStatus,
  NumberFormat,
  Ringback,
  SipMessageRecord,
  SipTransport,
  Trunk,
} from './model.js';

export function toAccount(row: Rows.Account): Account {
  return { id: row.id, name: row.name, createdAt: row.createdAt };
}

export function toApiKey(row: Rows.ApiKey): ApiKey {
  return {
    id: row.id,
    accountId: row.accountId,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.createdAt,
    lastUsedAt: row.lastUsedAt,
    revokedAt: row.revokedAt,
  };
}

export function toTrunk(row: Rows.Trunk): Trunk {
  return {
    id: row.id,
    accountId: row.accountId,
    name: row.name,
    host: row.host,
    port: row.port,
    transport: row.transport as SipTransport,
    username: row.username,
    hasPassword: row.passwordEncrypted !== null,
    realm: row.realm,
    fromDomain: row.fromDomain,
    numberFormat: row.numberFormat as NumberFormat,
    isDefault: row.isDefault,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

export function toLeg(row: Rows.Leg): Leg {
  return {
    name: row.name as LegName,
    uri: row.uri,
    callerId: row.callerId,
    trunkId: row.trunkId,
    headers: row.headers as Record<string, string>,
    ringTimeoutS: row.ringTimeoutS,
    status: row.status as LegStatus,
    sipCode: row.sipCode,
    sipReason: row.sipReason,
    sipCallId: row.sipCallId,
    dialog: (row.dialog ?? null) as JsonObject | null,
    invite: (row.invite ?? null) as JsonObject | null,
    answeredAt: row.answeredAt,
    endedAt: row.endedAt,
  };
}

export type CallRow = Rows.Call & { legs: Rows.Leg[] };

export function toCall(row: CallRow): Call {
  const a = row.legs.find((leg) => leg.name === 'a');
  const b = row.legs.find((leg) => leg.name === 'b');
  // createCall writes both legs in the call's own transaction; a call without them is corrupt.
  if (!a || !b) throw new Error(`call ${row.id} has no leg ${a ? 'b' : 'a'}`);
  return {
    id: row.id,
    accountId: row.accountId,
    status: row.status as CallStatus,
    flow: row.flow as Flow,
    endReason: row.endReason,
    sipCode: row.sipCode,
    sipReason: row.sipReason,
    failedLeg: row.failedLeg as LegName | null,
    ringback: row.ringback as Ringback,
    maxDurationS: row.maxDurationS,
    webhookUrl: row.webhookUrl,
    metadata: row.metadata as JsonObject,
    idempotencyKey: row.idempotencyKey,
    engineId: row.engineId,
    lastSequence: row.lastSequence,
    createdAt: row.createdAt,
    connectedAt: row.connectedAt,
    endedAt: row.endedAt,
    legs: { a: toLeg(a), b: toLeg(b) },
  };
}

export function toCallEvent(row: Rows.CallEvent): CallEventRecord {
  return {
    id: row.id,
    callId: row.callId,
    accountId: row.accountId,
    sequence: row.sequence,
    type: row.type,
    leg: row.leg as LegName | null,
    status: row.status,
    sipCode: row.sipCode,
    sipReason: row.sipReason,
    endReason: row.endReason,
    payload: row.payload as JsonObject,
    createdAt: row.createdAt,
  };
}

/**
 * A call's ladder, line by line: its rows of the old one-row-a-message table (written before the
 * upgrade, or by an engine not yet rolled) and its chunks, each read in id order, merged by time.
 */
export function toSipMessages(legacy: readonly Rows.SipMessage[], chunks: readonly Rows.SipLogChunk[]): SipMessageRecord[] {
  const lines = chunks.flatMap((chunk) =>
    (chunk.lines as unknown as StoredSipLine[]).map((line) => ({
      callId: chunk.callId,
      leg: line.leg,
      direction: line.direction,
      at: new Date(line.at),
      peer: line.peer,
      line: line.line,
      message: line.message ?? null,
    })),
  );
  if (legacy.length === 0) return lines;
  const old = legacy.map((row) => ({ callId: row.callId, leg: row.leg as LegName, direction: row.direction as 'in' | 'out', at: row.at, peer: row.peer, line: row.line, message: row.message }));
  // Stable: each table's lines keep their written order among equal times.
  return [...old, ...lines].sort((x, y) => x.at.getTime() - y.at.getTime());
}

/** A line as the event writer stores it in a chunk (the migrated ones have the same fields). */
interface StoredSipLine {
  leg: LegName;
  direction: 'in' | 'out';
  at: string;
  peer: string;
  line: string;
  message?: string | null;
}

export function toEngine(row: Rows.Engine): Engine {
  return {
    id: row.id,
    sipAddress: row.sipAddress,
    sipPort: row.sipPort,
    startedAt: row.startedAt,
    heartbeatAt: row.heartbeatAt,
    draining: row.draining,
  };
}
