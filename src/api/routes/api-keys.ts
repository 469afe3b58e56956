/** /v1/api-keys: keys of the account. The secret is shown once, at creation; the store keeps its hash. */
import { NotFound, type Store } from '../../store/index.js';
import { ApiProblem } from '../problem.js';
import type { RouteModule } from '../routes.js';
import { apiKeyView } from '../views.js';

export function apiKeyRoutes(store: Store): RouteModule {
  return (_router, { operation }) => {
    operation('createApiKey', async ({ body }, { principal }) => {
      const created = await store.createApiKey(principal.accountId, body?.name ?? 'API key');
      return { status: 201, body: { ...apiKeyView(created.key), secret: created.secret } };
    });
    operation('listApiKeys', async (_input, { principal }) => {
      const keys = await store.listApiKeys(principal.accountId);
      return { status: 200, body: { data: keys.filter((key) => key.revokedAt === null).map(apiKeyView), nextCursor: null, hasMore: false } };
    });
    operation('deleteApiKey', async ({ path }, { principal }) => {
      try {
        await store.revokeApiKey(principal.accountId, path.id);
      } catch (error) {
        if (error instanceof NotFound) throw new ApiProblem('not_found', { detail: `no API key ${path.id} in this account` });
        throw error;
      }
      return { status: 200, body: { id: path.id, object: 'api_key', deleted: true } as never };
    });
  };
}
