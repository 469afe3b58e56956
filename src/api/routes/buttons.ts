/**
 * /v1/buttons: the account's dial buttons. The destination is checked here as a call's leg b
 * would be (a number needs a trunk), patterns, origins and hours beyond what the contract's
 * schemas can say, and every problem names its field.
 */
import type { Request } from 'express';
import { NotFound, type Button as ButtonRecord, type ButtonUpdate, type NewButton, type Store } from '../../store/index.js';
import { businessHoursErrors, originErrors, patternErrors } from '../button-rules.js';
import { buttonView } from '../button-views.js';
import type { CallPlacer } from '../call-placement.js';
import type { components, FieldError } from '../contract.js';
import { ApiProblem } from '../problem.js';
import type { RouteModule } from '../routes.js';

export interface ButtonRoutesDeps {
  store: Store;
  placer: CallPlacer;
  /** Where widget.js is served from, for the snippet (`https://ctd.example.com`); default: the request's own host. */
  publicUrl?: string | undefined;
}

type CreateButtonRequest = components['schemas']['CreateButtonRequest'];
type UpdateButtonRequest = components['schemas']['UpdateButtonRequest'];

function notFound(id: string): ApiProblem {
  return new ApiProblem('not_found', { detail: `no button ${id} in this account` });
}

function ruleErrors(body: Partial<CreateButtonRequest>): FieldError[] {
  return [
    ...(body.allowedOrigins ? originErrors(body.allowedOrigins) : []),
    ...(body.numberPatterns ? patternErrors(body.numberPatterns) : []),
    ...businessHoursErrors(body.businessHours as ButtonRecord['businessHours'] | undefined),
  ];
}

export function buttonRoutes(deps: ButtonRoutesDeps): RouteModule {
  const { store, placer } = deps;
  const baseUrl = (req: Request): string => deps.publicUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`;

  /** The destination must be reachable as leg b is: a number needs the named or the default trunk. */
  async function checkDestination(accountId: string, destination: string, trunkId: string | null | undefined): Promise<void> {
    const trunk = await placer.trunkFor(accountId, trunkId ?? undefined);
    placer.checkParty(destination, trunk, '/destination');
  }

  return (_router, { operation }) => {
    operation('createButton', async ({ body }, { principal, req }) => {
      const errors = ruleErrors(body);
      if (errors.length > 0) throw ApiProblem.invalidFields(errors);
      await checkDestination(principal.accountId, body.destination, body.trunk);
      const input: NewButton = {
        name: body.name,
        destination: body.destination,
        trunkId: body.trunk ?? null,
        callerId: body.callerId ?? null,
        allowedOrigins: body.allowedOrigins,
        numberPatterns: body.numberPatterns ?? [],
        allowPremiumRate: body.allowPremiumRate ?? false,
        businessHours: (body.businessHours ?? null) as NewButton['businessHours'],
        limits: body.limits ?? {},
        enabled: body.enabled ?? true,
        ...(body.label !== undefined ? { label: body.label } : {}),
        ...(body.colors !== undefined ? { colors: body.colors } : {}),
      };
      const button = await store.createButton(principal.accountId, input);
      return { status: 201, body: buttonView(button, baseUrl(req)), headers: { Location: `/v1/buttons/${button.id}` } };
    });

    operation('listButtons', async (_input, { principal, req }) => {
      const buttons = await store.listButtons(principal.accountId);
      return { status: 200, body: { data: buttons.map((button) => buttonView(button, baseUrl(req))), nextCursor: null, hasMore: false } };
    });

    operation('getButton', async ({ path }, { principal, req }) => {
      const button = await store.getButton(principal.accountId, path.id);
      if (!button) throw notFound(path.id);
      return { status: 200, body: buttonView(button, baseUrl(req)) };
    });

    operation('updateButton', async ({ path, body }, { principal, req }) => {
      const current = await store.getButton(principal.accountId, path.id);
      if (!current) throw notFound(path.id);
      const update = body as UpdateButtonRequest;
      const errors = ruleErrors(update as Partial<CreateButtonRequest>);
      if (errors.length > 0) throw ApiProblem.invalidFields(errors);
      if (update.destination !== undefined || update.trunk !== undefined) {
        await checkDestination(principal.accountId, update.destination ?? current.destination, update.trunk === undefined ? current.trunkId : update.trunk);
      }
      const { trunk, ...rest } = update;
      const changes: ButtonUpdate = { ...(rest as ButtonUpdate), ...(trunk !== undefined ? { trunkId: trunk } : {}) };
      try {
        const button = await store.updateButton(principal.accountId, path.id, changes);
        return { status: 200, body: buttonView(button, baseUrl(req)) };
      } catch (error) {
        if (error instanceof NotFound) throw notFound(path.id);
        throw error;
      }
    });

    operation('deleteButton', async ({ path }, { principal }) => {
      try {
        await store.deleteButton(principal.accountId, path.id);
      } catch (error) {
        if (error instanceof NotFound) throw notFound(path.id);
        throw error;
      }
      return { status: 200, body: { id: path.id, object: 'button', deleted: true } as never };
    });
  };
}
