/**
 * /v1/webhook-endpoints, /v1/webhook-deliveries and /v1/webhook-secret: where an account's events
 * go, their signing secrets, and the log of every delivery (docs/webhooks.md). Sending (a test
 * event, a retry) is asked of the webhooks layer through `commands`, wired by main.ts.
 */
import { InvalidArgument, NotFound, type NewWebhookEndpoint, type Store, type WebhookEndpointUpdate } from '../../store/index.js';
import { ApiProblem } from '../problem.js';
import type { RouteModule } from '../routes.js';
import { webhookDeliveryView, webhookDeliveryWithAttemptsView, webhookEndpointView, webhookSecretView } from '../webhook-views.js';

/** What the routes ask of the webhooks layer; errors carry `code` ENDPOINT_DISABLED or DELIVERY_NOT_FOUND. */
export interface WebhookDeliveryCommands {
  /** The queued test delivery's id, or null for an unknown endpoint. */
  sendTest(accountId: string, endpointId: string): Promise<{ id: string } | null>;
  retry(accountId: string, deliveryId: string): Promise<void>;
}

export interface WebhookRoutesDeps {
  store: Store;
  commands: WebhookDeliveryCommands;
  /**
   * Why the SSRF guard would refuse this URL (a reason such as `loopback`), or null. Checked on
   * create and update so that a mistake is told at once; every delivery checks again.
   */
  refusedUrl: (url: string) => Promise<string | null>;
}

function endpointNotFound(id: string): ApiProblem {
  return new ApiProblem('not_found', { detail: `no webhook endpoint ${id} in this account` });
}

function codeOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

/** The webhooks layer's and the store's errors, as the API's problems. */
function asProblem(error: unknown, id: string): unknown {
  if (error instanceof NotFound) return error.resource === 'webhook_delivery' ? new ApiProblem('not_found', { detail: `no webhook delivery ${id} in this account` }) : endpointNotFound(id);
  if (codeOf(error) === 'DELIVERY_NOT_FOUND') return new ApiProblem('not_found', { detail: `no webhook delivery ${id} in this account` });
  if (codeOf(error) === 'ENDPOINT_DISABLED') return new ApiProblem('endpoint_disabled', { detail: (error as Error).message });
  if (error instanceof InvalidArgument) return ApiProblem.invalidFields([{ field: `/${error.field}`, message: error.message }]);
  return error;
}

async function orProblem<T>(id: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw asProblem(error, id);
  }
}

export function webhookRoutes(deps: WebhookRoutesDeps): RouteModule {
  const { store, commands } = deps;
  const endpoints = store.webhookEndpoints;

  async function checkUrl(url: string | undefined): Promise<void> {
    if (url === undefined) return;
    const refused = await deps.refusedUrl(url);
    if (refused !== null) {
      throw ApiProblem.invalidFields([{ field: '/url', code: 'ssrf', message: `is refused: it points at a ${refused.replace(/_/g, ' ')} address, which webhooks are never sent to` }]);
    }
  }

  return (_router, { operation }) => {
    operation('createWebhookEndpoint', async ({ body }, { principal }) => {
      await checkUrl(body.url);
      const created = await orProblem('', () => endpoints.createWebhookEndpoint(principal.accountId, body as NewWebhookEndpoint));
      return {
        status: 201,
        body: { ...webhookEndpointView(created.endpoint), secret: created.secret },
        headers: { Location: `/v1/webhook-endpoints/${created.endpoint.id}` },
      };
    });
    operation('listWebhookEndpoints', async (_input, { principal }) => {
      const list = await endpoints.listWebhookEndpoints(principal.accountId);
      return { status: 200, body: { data: list.map(webhookEndpointView), nextCursor: null, hasMore: false } };
    });
    operation('getWebhookEndpoint', async ({ path }, { principal }) => {
      const endpoint = await endpoints.getWebhookEndpoint(principal.accountId, path.id);
      if (!endpoint) throw endpointNotFound(path.id);
      return { status: 200, body: webhookEndpointView(endpoint) };
    });
    operation('updateWebhookEndpoint', async ({ path, body }, { principal }) => {
      await checkUrl(body.url);
      const endpoint = await orProblem(path.id, () => endpoints.updateWebhookEndpoint(principal.accountId, path.id, body as WebhookEndpointUpdate));
      return { status: 200, body: webhookEndpointView(endpoint) };
    });
    operation('deleteWebhookEndpoint', async ({ path }, { principal }) => {
      await orProblem(path.id, () => endpoints.deleteWebhookEndpoint(principal.accountId, path.id));
      return { status: 200, body: { id: path.id, object: 'webhook_endpoint', deleted: true } };
    });
    operation('getWebhookEndpointSecret', async ({ path }, { principal }) => {
      const secrets = await endpoints.webhookSigningSecrets(principal.accountId, path.id);
      if (!secrets) throw endpointNotFound(path.id);
      return { status: 200, body: webhookSecretView(secrets) };
    });
    operation('rotateWebhookEndpointSecret', async ({ path }, { principal }) => {
      const secrets = await orProblem(path.id, () => endpoints.rotateWebhookSecret(principal.accountId, path.id));
      return { status: 200, body: webhookSecretView(secrets) };
    });
    operation('listWebhookDeliveries', async ({ path, query }, { principal }) => {
      const page = await orProblem(path.id, () =>
        endpoints.listWebhookDeliveries(principal.accountId, path.id, {
          ...(query.status !== undefined ? { status: query.status } : {}),
          limit: query.limit ?? 20,
          cursor: query.cursor ?? null,
        }),
      );
      if (!page) throw endpointNotFound(path.id);
      return { status: 200, body: { data: page.deliveries.map(webhookDeliveryView), nextCursor: page.nextCursor, hasMore: page.nextCursor !== null } };
    });
    operation('listCallWebhookDeliveries', async ({ path }, { principal }) => {
      const deliveries = await endpoints.callWebhookDeliveries(principal.accountId, path.id);
      if (!deliveries) throw new ApiProblem('not_found', { detail: `no call ${path.id} in this account` });
      return { status: 200, body: { data: deliveries.map(webhookDeliveryView), nextCursor: null, hasMore: false } };
    });
    operation('sendTestWebhook', async ({ path }, { principal }) => {
      const queued = await orProblem(path.id, () => commands.sendTest(principal.accountId, path.id));
      if (!queued) throw endpointNotFound(path.id);
      const delivery = await endpoints.getWebhookDelivery(principal.accountId, queued.id);
      return { status: 202, body: webhookDeliveryView(delivery!) };
    });
    operation('getWebhookDelivery', async ({ path }, { principal }) => {
      const delivery = await endpoints.getWebhookDelivery(principal.accountId, path.id);
      if (!delivery) throw new ApiProblem('not_found', { detail: `no webhook delivery ${path.id} in this account` });
      return { status: 200, body: webhookDeliveryWithAttemptsView(delivery) };
    });
    operation('retryWebhookDelivery', async ({ path }, { principal }) => {
      await orProblem(path.id, () => commands.retry(principal.accountId, path.id));
      const delivery = await endpoints.getWebhookDelivery(principal.accountId, path.id);
      if (!delivery) throw new ApiProblem('not_found', { detail: `no webhook delivery ${path.id} in this account` });
      return { status: 202, body: webhookDeliveryView(delivery) };
    });
    operation('getAccountWebhookSecret', async (_input, { principal }) => {
      const secrets = await endpoints.accountWebhookSecrets(principal.accountId);
      if (!secrets) throw new ApiProblem('not_found', { detail: 'no such account' });
      return { status: 200, body: webhookSecretView(secrets) };
    });
    operation('rotateAccountWebhookSecret', async (_input, { principal }) => {
      return { status: 200, body: webhookSecretView(await endpoints.rotateAccountWebhookSecret(principal.accountId)) };
    });
  };
}
