/** /v1/trunks: the account's SIP trunks and outbound proxies. Passwords go in, never out. */
import { NotFound, type NewTrunk, type Store, type TrunkUpdate } from '../../store/index.js';
import { ApiProblem } from '../problem.js';
import type { RouteModule } from '../routes.js';
import { trunkView } from '../views.js';

function notFound(id: string): ApiProblem {
  return new ApiProblem('not_found', { detail: `no trunk ${id} in this account` });
}

/** The store's NotFound for another account's or a missing trunk is the API's 404. */
async function orNotFound<T>(id: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof NotFound) throw notFound(id);
    throw error;
  }
}

export function trunkRoutes(store: Store): RouteModule {
  return (_router, { operation }) => {
    operation('createTrunk', async ({ body }, { principal }) => {
      const trunk = await store.createTrunk(principal.accountId, body as NewTrunk);
      return { status: 201, body: trunkView(trunk), headers: { Location: `/v1/trunks/${trunk.id}` } };
    });
    operation('listTrunks', async (_input, { principal }) => {
      const trunks = await store.listTrunks(principal.accountId);
      return { status: 200, body: { data: trunks.map(trunkView), nextCursor: null, hasMore: false } };
    });
    operation('getTrunk', async ({ path }, { principal }) => {
      const trunk = await store.getTrunk(principal.accountId, path.id);
      if (!trunk) throw notFound(path.id);
      return { status: 200, body: trunkView(trunk) };
    });
    operation('updateTrunk', async ({ path, body }, { principal }) => {
      const trunk = await orNotFound(path.id, () => store.updateTrunk(principal.accountId, path.id, body as TrunkUpdate));
      return { status: 200, body: trunkView(trunk) };
    });
    operation('deleteTrunk', async ({ path }, { principal }) => {
      await orNotFound(path.id, () => store.deleteTrunk(principal.accountId, path.id));
      return { status: 200, body: { id: path.id, object: 'trunk', deleted: true } as never };
    });
  };
}
