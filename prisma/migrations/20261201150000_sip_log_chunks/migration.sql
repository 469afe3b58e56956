-- The SIP log as a few rows a call (issue 4's call rate): each sip_log_chunk row holds, in order,
-- the lines of one call that one batch of the event writer took. Only adds, as upgrades require
-- (docs/operations.md): sip_message stays and is still read, for the ladders written before and
-- by engines not yet rolled; a later release drops it.

CREATE TABLE "sip_log_chunk" (
    "id" BIGSERIAL NOT NULL,
    "call_id" TEXT NOT NULL,
    "lines" JSON NOT NULL,

    CONSTRAINT "sip_log_chunk_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "sip_log_chunk_call_id_id_idx" ON "sip_log_chunk"("call_id", "id");

ALTER TABLE "sip_log_chunk" ADD CONSTRAINT "sip_log_chunk_call_id_fkey" FOREIGN KEY ("call_id") REFERENCES "call"("id") ON DELETE CASCADE ON UPDATE CASCADE;
