import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import pg from 'pg';
import { isConnectionFailure, Store } from '../../src/store/index.js';
import { Prisma } from '../../src/store/prisma-client.js';
import { freePortBlock } from '../support/ports.js';

const clientVersion = Prisma.prismaVersion.client;

describe('isConnectionFailure', () => {
  it('counts an API key lookup (Prisma) against a PostgreSQL that does not answer: the API answers 503, not 500', async () => {
    const port = await freePortBlock(1);
    const store = new Store({ databaseUrl: `postgresql://postgres@127.0.0.1:${port}/nothing`, encryptionKey: randomBytes(32) });
    try {
      const error = await store.authenticate('ctd_key_for_a_database_that_is_down_0123').then(
        () => assert.fail('authenticated without a database'),
        (failure: unknown) => failure,
      );
      assert.ok(error instanceof Prisma.PrismaClientKnownRequestError, String(error));
      assert.ok(isConnectionFailure(error), String(error));
    } finally {
      await store.close();
    }
  });

  it('counts the raw pg error of the same', async () => {
    const port = await freePortBlock(1);
    const client = new pg.Client({ connectionString: `postgresql://postgres@127.0.0.1:${port}/nothing` });
    const error = await client.connect().then(
      () => assert.fail('connected'),
      (failure: unknown) => failure,
    );
    assert.ok(isConnectionFailure(error), String(error));
  });

  it("counts Prisma's server-gone codes and its adapter's kinds and SQLSTATEs, and nothing else", () => {
    const prisma = (code: string, cause?: object) => new Prisma.PrismaClientKnownRequestError('failed', { code, clientVersion, ...(cause ? { meta: { driverAdapterError: { name: 'DriverAdapterError', cause } } } : {}) });
    assert.equal(isConnectionFailure(prisma('P1001')), true);
    assert.equal(isConnectionFailure(prisma('P1017')), true);
    assert.equal(isConnectionFailure(prisma('P2010', { kind: 'ConnectionClosed' })), true);
    assert.equal(isConnectionFailure(prisma('P2010', { kind: 'postgres', code: '57P03', message: 'the database system is not yet accepting connections' })), true);
    assert.equal(isConnectionFailure(prisma('P2002', { kind: 'UniqueConstraintViolation' })), false);
    assert.equal(isConnectionFailure(prisma('P2010', { kind: 'postgres', code: '23505', message: 'duplicate key value' })), false);
    assert.equal(isConnectionFailure(new Error('relation "call" does not exist')), false);
  });
});
