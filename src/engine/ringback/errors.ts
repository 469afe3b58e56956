/** Failures of the ringback sender, as values with stable codes. */
export type RingbackErrorCode = 'PLAYER_CLOSED';

export class RingbackError extends Error {
  override readonly name = 'RingbackError';
  constructor(
    readonly code: RingbackErrorCode,
    message: string,
  ) {
    super(message);
  }
}
