/**
 * A throw-away database per test file: `ctd_test_<random>` on the local PostgreSQL, migrated with
 * the real migrations, dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import { dropDatabase, ensureDatabase, migrate, Store, type StoreOptions } from '../../src/store/index.js';

const SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres:postgres@127.0.0.1:5432/postgres';

export const TEST_KEY = Buffer.alloc(32, 7);

export class TestClock {
  constructor(public millis = Date.parse('2026-03-01T10:00:00.000Z')) {}
  readonly now = (): Date => new Date(this.millis);
  advance(ms: number): void {
    this.millis += ms;
  }
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const url = new URL(SERVER_URL);
  url.pathname = `/ctd_test_${randomBytes(6).toString('hex')}`;
  const databaseUrl = url.toString();
  await ensureDatabase(databaseUrl);
  await migrate(databaseUrl);
  return { url: databaseUrl, drop: () => dropDatabase(databaseUrl) };
}

export function openStore(database: TestDatabase, options: Partial<StoreOptions> = {}): Store {
  return new Store({ databaseUrl: database.url, encryptionKey: TEST_KEY, poolSize: 4, writerPoolSize: 4, ...options });
}

export const legs = {
  a: { uri: 'sip:+15551230001@trunk.example.com', callerId: '<sip:+15550000000@example.com>' },
  b: { uri: 'sip:+15551230002@trunk.example.com', callerId: '<sip:+15550000000@example.com>' },
};
