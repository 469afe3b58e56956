-- Order per call (issue 7): a call event's delivery keeps the event's sequence, and the pending
-- deliveries are indexed by (call, destination, sequence), so that the reconciler tells a delivery
-- waiting behind an earlier pending one of its call (not overdue: it is due when that one is done)
-- from one whose job Redis lost, without reading call_event. Written by hand like the others; the
-- partial index is not something Prisma models.

ALTER TABLE "webhook_delivery" ADD COLUMN "sequence" INTEGER;

-- Only the pending deliveries need it (the index holds no others).
UPDATE "webhook_delivery" AS w SET "sequence" = e."sequence" FROM "call_event" AS e WHERE e."id" = w."event_id" AND w."status" = 'pending';

CREATE INDEX "webhook_delivery_pending_call_target_sequence_idx" ON "webhook_delivery"("call_id", "target", "sequence") WHERE "status" = 'pending';
