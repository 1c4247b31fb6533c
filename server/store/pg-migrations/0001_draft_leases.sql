CREATE TABLE "draft_leases" (
	"draft_id" text PRIMARY KEY NOT NULL,
	"owner_node" text NOT NULL,
	"owner_url" text NOT NULL,
	"epoch" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "draft_leases" ADD CONSTRAINT "draft_leases_draft_id_drafts_id_fk" FOREIGN KEY ("draft_id") REFERENCES "public"."drafts"("id") ON DELETE cascade ON UPDATE no action;