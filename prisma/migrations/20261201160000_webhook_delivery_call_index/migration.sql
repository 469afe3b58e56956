-- A call's deliveries were read by scanning the whole table (GET /v1/calls/{id}/webhook-deliveries, the
-- dashboard's call page): an index in the order they are listed. On a large table, build it
-- beforehand with CREATE INDEX CONCURRENTLY under this name; IF NOT EXISTS then skips it.
CREATE INDEX IF NOT EXISTS "webhook_delivery_call_id_event_at_id_idx" ON "webhook_delivery"("call_id", "event_at", "id");
