CREATE TABLE "message_reactions" (
	"id" bigserial NOT NULL,
	"message_id" bigint NOT NULL,
	"emoji" text NOT NULL,
	"user_id" integer NOT NULL,
	CONSTRAINT "message_reactions_message_id_emoji_user_id_pk" PRIMARY KEY("message_id","emoji","user_id")
);
--> statement-breakpoint
ALTER TABLE "rooms" ADD COLUMN "last_rev" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "rev" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "created_rev" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Messages stored before revs: nothing was ever edited, deleted or reacted to, so rev = seq.
UPDATE "messages" SET "rev" = "seq", "created_rev" = "seq";--> statement-breakpoint
UPDATE "rooms" SET "last_rev" = "last_seq";--> statement-breakpoint
ALTER TABLE "messages" ALTER COLUMN "rev" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "messages" ALTER COLUMN "created_rev" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "edited_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "deleted" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "reply_to_id" bigint;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "reply_to" jsonb;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "reactions" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "mentions" integer[] DEFAULT '{}'::integer[] NOT NULL;--> statement-breakpoint
ALTER TABLE "message_reactions" ADD CONSTRAINT "message_reactions_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "message_reactions" ADD CONSTRAINT "message_reactions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "message_reactions_message_id_emoji_id_index" ON "message_reactions" USING btree ("message_id","emoji","id");--> statement-breakpoint
CREATE INDEX "users_username_lower_idx" ON "users" USING btree (lower("username"));--> statement-breakpoint
CREATE INDEX "messages_reply_to_id_index" ON "messages" USING btree ("reply_to_id") WHERE "messages"."reply_to_id" is not null;--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_roomId_rev_unique" UNIQUE("room_id","rev");