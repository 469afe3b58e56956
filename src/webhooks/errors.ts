/** The webhooks layer's domain errors: classes with a stable `code` (CONVENTIONS §5). */
export type WebhookErrorCode = 'DESTINATION_REFUSED' | 'DELIVERY_NOT_FOUND' | 'ENDPOINT_DISABLED';

export abstract class WebhookError extends Error {
  abstract readonly code: WebhookErrorCode;
}

/** Why the SSRF guard refuses a destination. */
export type RefusalReason =
  | 'not_http'
  | 'bad_url'
  | 'unresolvable'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'link_local'
  | 'shared_address_space'
  | 'metadata'
  | 'unique_local'
  | 'ipv4_mapped'
  | 'multicast'
  | 'reserved'
  | 'documentation';

/** The URL is not one we send to: not http(s), or it resolves to an address of a refused kind. */
export class DestinationRefused extends WebhookError {
  override readonly name = 'DestinationRefused';
  readonly code = 'DESTINATION_REFUSED';
  constructor(
    readonly url: string,
    readonly reason: RefusalReason,
    /** The address at fault, when it is one. */
    readonly address?: string,
  ) {
    super(`refused to send to ${url}: ${reason.replace(/_/g, ' ')}${address ? ` (${address})` : ''}`);
  }
}

export class DeliveryNotFound extends WebhookError {
  override readonly name = 'DeliveryNotFound';
  readonly code = 'DELIVERY_NOT_FOUND';
  constructor(readonly deliveryId: string) {
    super(`webhook delivery ${deliveryId} not found`);
  }
}

/** A test event or a retry was asked for an endpoint that is disabled. */
export class EndpointDisabled extends WebhookError {
  override readonly name = 'EndpointDisabled';
  readonly code = 'ENDPOINT_DISABLED';
  constructor(readonly endpointId: string) {
    super(`webhook endpoint ${endpointId} is disabled; enable it first`);
  }
}
