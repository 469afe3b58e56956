-- Buttons (issue 6): the dial button for websites, the calls placed through one (by the hash of
-- their public token), and the whole text of each SIP message for the dashboard's ladder.

-- AlterTable
ALTER TABLE "sip_message" ADD COLUMN "message" TEXT;

-- CreateTable
CREATE TABLE "button" (
    "id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "destination" TEXT NOT NULL,
    "trunk_id" TEXT,
    "caller_id" TEXT,
    "label" TEXT NOT NULL,
    "color_background" TEXT NOT NULL,
    "color_text" TEXT NOT NULL,
    "allowed_origins" TEXT[],
    "number_patterns" TEXT[],
    "allow_premium_rate" BOOLEAN NOT NULL,
    "business_hours" JSONB,
    "limit_per_ip_hour" INTEGER NOT NULL,
    "limit_per_number_hour" INTEGER NOT NULL,
    "limit_per_button_hour" INTEGER NOT NULL,
    "limit_per_day" INTEGER NOT NULL,
    "enabled" BOOLEAN NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "button_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "button_call" (
    "token_hash" TEXT NOT NULL,
    "button_id" TEXT NOT NULL,
    "call_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "button_call_pkey" PRIMARY KEY ("token_hash")
);

-- CreateIndex
CREATE INDEX "button_account_id_created_at_id_idx" ON "button"("account_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "button_call_call_id_key" ON "button_call"("call_id");

-- AddForeignKey
ALTER TABLE "button" ADD CONSTRAINT "button_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "account"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "button_call" ADD CONSTRAINT "button_call_button_id_fkey" FOREIGN KEY ("button_id") REFERENCES "button"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "button_call" ADD CONSTRAINT "button_call_call_id_fkey" FOREIGN KEY ("call_id") REFERENCES "call"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Written by hand (see the first migration): limits are positive, colours are #rrggbb.
ALTER TABLE "button"
    ADD CONSTRAINT "button_limits_check" CHECK ("limit_per_ip_hour" > 0 AND "limit_per_number_hour" > 0 AND "limit_per_button_hour" > 0 AND "limit_per_day" > 0),
    ADD CONSTRAINT "button_colors_check" CHECK ("color_background" ~ '^#[0-9a-fA-F]{6}$' AND "color_text" ~ '^#[0-9a-fA-F]{6}$');
