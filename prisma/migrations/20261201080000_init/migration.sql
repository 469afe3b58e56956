-- CreateTable
CREATE TABLE "account" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "webhook_secret" TEXT,

    CONSTRAINT "account_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_key" (
    "id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "last_used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "api_key_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "trunk" (
    "id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "host" TEXT NOT NULL,
    "port" INTEGER NOT NULL,
    "transport" TEXT NOT NULL,
    "username" TEXT,
    "password_encrypted" TEXT,
    "realm" TEXT,
    "from_domain" TEXT,
    "number_format" TEXT NOT NULL,
    "is_default" BOOLEAN NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "trunk_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "call" (
    "id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "flow" TEXT NOT NULL,
    "end_reason" TEXT,
    "sip_code" INTEGER,
    "sip_reason" TEXT,
    "failed_leg" TEXT,
    "ringback" TEXT NOT NULL,
    "max_duration_s" INTEGER NOT NULL,
    "webhook_url" TEXT,
    "metadata" JSONB NOT NULL,
    "idempotency_key" TEXT,
    "request_hash" TEXT,
    "engine_id" TEXT,
    "last_sequence" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "connected_at" TIMESTAMPTZ(3),
    "ended_at" TIMESTAMPTZ(3),

    CONSTRAINT "call_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "leg" (
    "call_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "uri" TEXT NOT NULL,
    "caller_id" TEXT NOT NULL,
    "trunk_id" TEXT,
    "headers" JSONB NOT NULL,
    "ring_timeout_s" INTEGER NOT NULL,
    "status" TEXT NOT NULL,
    "sip_code" INTEGER,
    "sip_reason" TEXT,
    "sip_call_id" TEXT,
    "dialog" JSONB,
    "answered_at" TIMESTAMPTZ(3),
    "ended_at" TIMESTAMPTZ(3),

    CONSTRAINT "leg_pkey" PRIMARY KEY ("call_id","name")
);

-- CreateTable
CREATE TABLE "call_event" (
    "id" TEXT NOT NULL,
    "call_id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "sequence" INTEGER NOT NULL,
    "type" TEXT NOT NULL,
    "leg" TEXT,
    "status" TEXT,
    "sip_code" INTEGER,
    "sip_reason" TEXT,
    "end_reason" TEXT,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "call_event_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "outbox" (
    "event_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "claimed_at" TIMESTAMPTZ(3),

    CONSTRAINT "outbox_pkey" PRIMARY KEY ("event_id")
);

-- CreateTable
CREATE TABLE "sip_message" (
    "id" BIGSERIAL NOT NULL,
    "call_id" TEXT NOT NULL,
    "leg" TEXT NOT NULL,
    "direction" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL,
    "peer" TEXT NOT NULL,
    "line" TEXT NOT NULL,

    CONSTRAINT "sip_message_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "engine" (
    "id" TEXT NOT NULL,
    "sip_address" TEXT NOT NULL,
    "sip_port" INTEGER NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "heartbeat_at" TIMESTAMPTZ(3) NOT NULL,
    "draining" BOOLEAN NOT NULL,

    CONSTRAINT "engine_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "api_key_hash_key" ON "api_key"("hash");

-- CreateIndex
CREATE INDEX "api_key_account_id_created_at_idx" ON "api_key"("account_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX "trunk_account_id_created_at_idx" ON "trunk"("account_id", "created_at");

-- CreateIndex
CREATE INDEX "call_account_id_created_at_id_idx" ON "call"("account_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "call_engine_id_status_idx" ON "call"("engine_id", "status");

-- CreateIndex
CREATE UNIQUE INDEX "call_account_id_idempotency_key_key" ON "call"("account_id", "idempotency_key");

-- CreateIndex
CREATE INDEX "leg_trunk_id_idx" ON "leg"("trunk_id");

-- CreateIndex
CREATE UNIQUE INDEX "call_event_call_id_sequence_key" ON "call_event"("call_id", "sequence");

-- CreateIndex
CREATE INDEX "outbox_created_at_idx" ON "outbox"("created_at");

-- CreateIndex
CREATE INDEX "sip_message_call_id_id_idx" ON "sip_message"("call_id", "id");

-- AddForeignKey
ALTER TABLE "api_key" ADD CONSTRAINT "api_key_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "account"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "trunk" ADD CONSTRAINT "trunk_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "account"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "call" ADD CONSTRAINT "call_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "account"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "leg" ADD CONSTRAINT "leg_call_id_fkey" FOREIGN KEY ("call_id") REFERENCES "call"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "leg" ADD CONSTRAINT "leg_trunk_id_fkey" FOREIGN KEY ("trunk_id") REFERENCES "trunk"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "call_event" ADD CONSTRAINT "call_event_call_id_fkey" FOREIGN KEY ("call_id") REFERENCES "call"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "outbox" ADD CONSTRAINT "outbox_event_id_fkey" FOREIGN KEY ("event_id") REFERENCES "call_event"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "sip_message" ADD CONSTRAINT "sip_message_call_id_fkey" FOREIGN KEY ("call_id") REFERENCES "call"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Written by hand (Prisma does not model CHECK constraints and leaves them alone): the closed sets
-- of values of schema.prisma's text columns. End reasons and event types stay open: the engine
-- grows them, and a write it makes must not fail on a value this table has not heard of.
ALTER TABLE "trunk"
    ADD CONSTRAINT "trunk_transport_check" CHECK ("transport" IN ('udp', 'tcp', 'tls')),
    ADD CONSTRAINT "trunk_number_format_check" CHECK ("number_format" IN ('e164', 'national', 'as-is')),
    ADD CONSTRAINT "trunk_port_check" CHECK ("port" BETWEEN 1 AND 65535);

ALTER TABLE "call"
    ADD CONSTRAINT "call_status_check" CHECK ("status" IN ('queued', 'calling_a', 'calling_b', 'connected', 'completed', 'failed', 'canceled')),
    ADD CONSTRAINT "call_flow_check" CHECK ("flow" IN ('I', 'III', 'IV')),
    ADD CONSTRAINT "call_ringback_check" CHECK ("ringback" IN ('tone', 'none')),
    ADD CONSTRAINT "call_failed_leg_check" CHECK ("failed_leg" IN ('a', 'b')),
    ADD CONSTRAINT "call_max_duration_s_check" CHECK ("max_duration_s" >= 0),
    ADD CONSTRAINT "call_last_sequence_check" CHECK ("last_sequence" >= 0);

ALTER TABLE "leg"
    ADD CONSTRAINT "leg_name_check" CHECK ("name" IN ('a', 'b')),
    ADD CONSTRAINT "leg_status_check" CHECK ("status" IN ('idle', 'calling', 'ringing', 'early', 'answered', 'connected', 'ended', 'failed')),
    ADD CONSTRAINT "leg_ring_timeout_s_check" CHECK ("ring_timeout_s" > 0);

ALTER TABLE "call_event"
    ADD CONSTRAINT "call_event_leg_check" CHECK ("leg" IN ('a', 'b')),
    ADD CONSTRAINT "call_event_sequence_check" CHECK ("sequence" > 0);

ALTER TABLE "sip_message"
    ADD CONSTRAINT "sip_message_leg_check" CHECK ("leg" IN ('a', 'b')),
    ADD CONSTRAINT "sip_message_direction_check" CHECK ("direction" IN ('in', 'out'));
