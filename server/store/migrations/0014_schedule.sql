CREATE TABLE `freeze_windows` (
	`environment_id` text PRIMARY KEY NOT NULL,
	`windows` text NOT NULL,
	`updated_by` text NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`environment_id`) REFERENCES `environments`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `scheduled_releases` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`environment_id` text NOT NULL,
	`kind` text NOT NULL,
	`snapshot_id` text NOT NULL,
	`expected_target_snapshot_id` text,
	`at` integer NOT NULL,
	`created_by` text NOT NULL,
	`message` text,
	`confirm_missing_secrets` integer NOT NULL,
	`confirm_undo_hotfix` integer NOT NULL,
	`state` text NOT NULL,
	`error_id` text,
	`error_message` text,
	`release_seq` integer,
	`created_at` integer NOT NULL,
	`finished_at` integer,
	FOREIGN KEY (`environment_id`) REFERENCES `environments`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `scheduled_releases_due` ON `scheduled_releases` (`state`,`at`);--> statement-breakpoint
CREATE INDEX `scheduled_releases_env` ON `scheduled_releases` (`environment_id`,`state`);