-- What another engine needs to CANCEL a leg's INVITE while it rings, if the engine that sent it
-- dies (src/sip/ua/orphaned-requests.ts InviteSnapshot: Request-URI, top Via, From, To, Call-ID,
-- CSeq, Route, destination). Written with the leg's ringing/early change.
ALTER TABLE "leg" ADD COLUMN "invite" JSONB;

-- The failover monitor looks for engines that stopped beating.
CREATE INDEX "engine_heartbeat_at_idx" ON "engine"("heartbeat_at");
