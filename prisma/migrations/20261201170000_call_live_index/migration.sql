-- A call's status changes four or five times in its life. With status in an index ("engine_id",
-- "status"), every change was an update that wrote a new entry into each of the call's four
-- indexes. The live calls of an engine (what failover takes over) and the calls still queued (what
-- the queue timeout ends) are the calls not ended: a partial index on those, by engine and age,
-- serves both, and leaves status in no index, so that a change of status is a HOT update where
-- the page has room for it (fillfactor 80 keeps room on new pages). Prisma's schema cannot
-- express a partial index: it is declared here only.
-- On a large table, build the new index beforehand with CREATE INDEX CONCURRENTLY under this name.
-- Dropping the old index is safe while processes roll: the old code's queries for live calls
-- (run at an engine's start and at failover only) still work, by a scan, until it is replaced.
CREATE INDEX IF NOT EXISTS "call_engine_id_live_idx" ON "call"("engine_id", "created_at") WHERE "ended_at" IS NULL;
DROP INDEX IF EXISTS "call_engine_id_status_idx";
ALTER TABLE "call" SET (fillfactor = 80);
