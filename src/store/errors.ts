/** The store's domain errors: classes with a stable `code`; only src/api turns them into problem+json. */
export type StoreErrorCode =
  | 'NOT_FOUND'
  | 'IDEMPOTENCY_CONFLICT'
  | 'INVALID_CURSOR'
  | 'INVALID_ARGUMENT'
  | 'INVALID_ENCRYPTION_KEY'
  | 'DECRYPTION_FAILED'
  | 'EVENT_WRITE_FAILED'
  | 'WRITER_CLOSED'
  | 'MIGRATION_FAILED';

export abstract class StoreError extends Error {
  abstract readonly code: StoreErrorCode;
}

export type ResourceKind = 'account' | 'api_key' | 'trunk' | 'call' | 'button' | 'webhook_endpoint' | 'webhook_delivery';

/** The record does not exist, or belongs to another account (the two are not told apart). */
export class NotFound extends StoreError {
  override readonly name = 'NotFound';
  readonly code = 'NOT_FOUND';
  constructor(
    readonly resource: ResourceKind,
    readonly id: string,
  ) {
    super(`${resource} ${id} not found`);
  }
}

/** An Idempotency-Key was reused with another request body. */
export class IdempotencyConflict extends StoreError {
  override readonly name = 'IdempotencyConflict';
  readonly code = 'IDEMPOTENCY_CONFLICT';
  constructor(
    readonly idempotencyKey: string,
    /** The call the key created first. */
    readonly callId: string,
  ) {
    super(`idempotency key ${JSON.stringify(idempotencyKey)} was used for another request (call ${callId})`);
  }
}

export class InvalidCursor extends StoreError {
  override readonly name = 'InvalidCursor';
  readonly code = 'INVALID_CURSOR';
  constructor() {
    super('the pagination cursor is not one this service issued');
  }
}

export class InvalidArgument extends StoreError {
  override readonly name = 'InvalidArgument';
  readonly code = 'INVALID_ARGUMENT';
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

export class InvalidEncryptionKey extends StoreError {
  override readonly name = 'InvalidEncryptionKey';
  readonly code = 'INVALID_ENCRYPTION_KEY';
  constructor(length: number) {
    super(`the trunk password key must be 32 bytes (AES-256), got ${length}`);
  }
}

/** A stored trunk password does not decrypt with the key given to the store (wrong key, or tampered). */
export class DecryptionFailed extends StoreError {
  override readonly name = 'DecryptionFailed';
  readonly code = 'DECRYPTION_FAILED';
  constructor(
    readonly trunkId: string,
    options?: { cause: unknown },
  ) {
    super(`the password of trunk ${trunkId} does not decrypt with this key`, options);
  }
}

/** A change (or SIP log line) of one call could not be committed, even alone in its own transaction. */
export class EventWriteFailed extends StoreError {
  override readonly name = 'EventWriteFailed';
  readonly code = 'EVENT_WRITE_FAILED';
  constructor(
    readonly callId: string,
    /** How many writes of this call were lost. */
    readonly count: number,
    readonly what: 'changes' | 'sip log' | 'webhook attempts',
    options: { cause: unknown },
  ) {
    super(`${count} ${what} of call ${callId} could not be written: ${(options.cause as Error)?.message ?? String(options.cause)}`, options);
  }
}

export class WriterClosed extends StoreError {
  override readonly name = 'WriterClosed';
  readonly code = 'WRITER_CLOSED';
  constructor() {
    super('the event writer is closed');
  }
}

export class MigrationFailed extends StoreError {
  override readonly name = 'MigrationFailed';
  readonly code = 'MIGRATION_FAILED';
  constructor(
    readonly migration: string,
    reason: string,
    options?: { cause: unknown },
  ) {
    super(`migration ${migration}: ${reason}`, options);
  }
}
