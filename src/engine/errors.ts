/** The engine's domain errors: classes with a stable `code` (the API turns them into problem+json). */
export type EngineErrorCode = 'CALL_EXISTS' | 'CALL_NOT_FOUND' | 'CALL_NOT_CONNECTED';

export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(
    readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
  }
}
