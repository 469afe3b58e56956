/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com), made by the `standardwebhooks`
 * package itself so that receivers can verify them with any implementation of the specification:
 * `webhook-signature` is `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per secret,
 * space-separated. During a rotation both the new and the previous secret sign, so a receiver
 * that still has the old secret keeps verifying until it switches.
 */
import { Webhook } from 'standardwebhooks';

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

// Building a Webhook decodes the base64 secret; deliveries sign with few distinct secrets.
const signers = new Map<string, Webhook>();

function signerFor(secret: string): Webhook {
  let signer = signers.get(secret);
  if (!signer) {
    if (signers.size >= 10_000) signers.clear();
    signer = new Webhook(secret);
    signers.set(secret, signer);
  }
  return signer;
}

export function signatureHeaders(messageId: string, at: Date, body: string, secrets: readonly string[]): SignedHeaders {
  if (secrets.length === 0) throw new RangeError('a webhook needs at least one secret to be signed with');
  // The specification's timestamp is in whole seconds; sign exactly what the header says.
  const timestamp = new Date(Math.floor(at.getTime() / 1000) * 1000);
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(timestamp.getTime() / 1000),
    'webhook-signature': secrets.map((secret) => signerFor(secret).sign(messageId, timestamp, body)).join(' '),
  };
}
