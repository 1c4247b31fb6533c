CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`key` text NOT NULL,
	`payload` text NOT NULL,
	`run_at` integer NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`claimed_by` text,
	`claim_token` text,
	`claim_expires_at` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_waiting` ON `jobs` (`kind`,`key`) WHERE "jobs"."claimed_by" IS NULL;--> statement-breakpoint
CREATE INDEX `jobs_due` ON `jobs` (`kind`,`run_at`);--> statement-breakpoint
CREATE INDEX `jobs_key` ON `jobs` (`kind`,`key`);