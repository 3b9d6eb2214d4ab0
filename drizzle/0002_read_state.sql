CREATE TABLE "message_mentions" (
	"room_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"seq" bigint NOT NULL,
	"message_id" bigint NOT NULL,
	CONSTRAINT "message_mentions_room_id_user_id_seq_pk" PRIMARY KEY("room_id","user_id","seq")
);
--> statement-breakpoint
ALTER TABLE "rooms" ADD COLUMN "direct_low" integer;--> statement-breakpoint
ALTER TABLE "rooms" ADD COLUMN "direct_high" integer;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "search" "tsvector";--> statement-breakpoint
ALTER TABLE "message_mentions" ADD CONSTRAINT "message_mentions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "message_mentions" ADD CONSTRAINT "message_mentions_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "message_mentions_message_id_index" ON "message_mentions" USING btree ("message_id");--> statement-breakpoint
ALTER TABLE "rooms" ADD CONSTRAINT "rooms_direct_low_users_id_fk" FOREIGN KEY ("direct_low") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rooms" ADD CONSTRAINT "rooms_direct_high_users_id_fk" FOREIGN KEY ("direct_high") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "messages_deleted_idx" ON "messages" USING btree ("room_id","seq") WHERE "messages"."deleted";--> statement-breakpoint
-- Messages stored before search: their words, as the server splits them (runs of letters and digits, lowercased).
UPDATE "messages" SET "search" = array_to_string(regexp_split_to_array(lower("message"), '[^[:alnum:]]+'), ' ')::tsvector WHERE NOT "deleted";--> statement-breakpoint
-- Sends move the sender's read position to their message from now on; before, they did not.
UPDATE "room_members" SET "last_read_seq" = greatest("room_members"."last_read_seq", s."seq") FROM (SELECT "room_id", "sender_id", max("seq") AS "seq" FROM "messages" GROUP BY 1, 2) s WHERE "room_members"."room_id" = s."room_id" AND "room_members"."user_id" = s."sender_id";--> statement-breakpoint
INSERT INTO "message_mentions" ("room_id", "user_id", "seq", "message_id") SELECT m."room_id", u.id, m."seq", m."id" FROM "messages" m CROSS JOIN LATERAL unnest(m."mentions") AS u(id) JOIN "users" ON "users"."id" = u.id WHERE NOT m."deleted" ON CONFLICT DO NOTHING;--> statement-breakpoint
CREATE INDEX "messages_search_idx" ON "messages" USING gin ("search");--> statement-breakpoint
ALTER TABLE "rooms" ADD CONSTRAINT "rooms_direct_pair_unique" UNIQUE("direct_low","direct_high");