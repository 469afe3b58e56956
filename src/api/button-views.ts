/** Buttons as the API shows them: the account's view (with the snippet to paste) and the visitor's. Pure. */
import type { Button as ButtonRecord } from '../store/index.js';
import type { components } from './contract.js';
import { isOpen } from './button-rules.js';

type Schemas = components['schemas'];
export type Button = Schemas['Button'];
export type PublicButton = Schemas['PublicButton'];
export type PublicCallStatus = Schemas['PublicCallStatus'];

/** Quotes an attribute value for HTML (the id is base62, the URL ours; escaped all the same). */
function attribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

/** The one tag that embeds the button. */
export function snippetFor(buttonId: string, baseUrl: string): string {
  return `<script src="${attribute(`${baseUrl.replace(/\/$/, '')}/widget.js`)}" data-button="${attribute(buttonId)}" async></script>`;
}

export function buttonView(button: ButtonRecord, baseUrl: string): Button {
  return {
    id: button.id,
    object: 'button',
    name: button.name,
    destination: button.destination,
    trunk: button.trunkId,
    callerId: button.callerId,
    label: button.label,
    colors: { ...button.colors },
    allowedOrigins: [...button.allowedOrigins],
    numberPatterns: [...button.numberPatterns],
    allowPremiumRate: button.allowPremiumRate,
    businessHours: button.businessHours as Button['businessHours'],
    limits: { ...button.limits },
    enabled: button.enabled,
    snippet: snippetFor(button.id, baseUrl),
    createdAt: button.createdAt.toISOString(),
    updatedAt: button.updatedAt.toISOString(),
  };
}

export function publicButtonView(button: ButtonRecord, now: Date): PublicButton {
  const unavailableReason = !button.enabled ? 'disabled' : !isOpen(button.businessHours, now) ? 'outside_business_hours' : null;
  return { id: button.id, object: 'public_button', label: button.label, colors: { ...button.colors }, available: unavailableReason === null, unavailableReason };
}

/** A call's status as its visitor may see it: progress words, nothing of the account. */
export function publicCallStatus(call: { status: string; endReason: string | null; failedLeg: 'a' | 'b' | null }): PublicCallStatus {
  switch (call.status) {
    case 'queued':
      return 'queued';
    case 'calling_a':
      return 'calling_you';
    case 'calling_b':
      return 'connecting';
    case 'connected':
      return 'connected';
    case 'completed':
      return 'completed';
    default:
      if (call.failedLeg === 'a' || call.endReason?.startsWith('a_')) return 'not_reached';
      if (call.failedLeg === 'b' || call.endReason?.startsWith('b_')) return 'unavailable';
      return 'failed';
  }
}

export const FINAL_PUBLIC_STATUSES: ReadonlySet<PublicCallStatus> = new Set(['completed', 'not_reached', 'unavailable', 'failed']);
