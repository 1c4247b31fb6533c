CREATE TABLE `blobs` (
	`id` text PRIMARY KEY NOT NULL,
	`json` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `environment_settings` (
	`environment_id` text PRIMARY KEY NOT NULL,
	`json` text NOT NULL,
	`updated_by` text NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`environment_id`) REFERENCES `environments`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `hotfixes` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`environment_id` text NOT NULL,
	`draft_id` text NOT NULL,
	`base_snapshot_id` text NOT NULL,
	`snapshot_id` text NOT NULL,
	`published_by` text NOT NULL,
	`published_at` integer NOT NULL,
	`state` text NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `releases` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`project_id` text NOT NULL,
	`environment_id` text NOT NULL,
	`kind` text NOT NULL,
	`pointer` text NOT NULL,
	`from_snapshot_id` text,
	`to_snapshot_id` text NOT NULL,
	`source_environment_id` text,
	`actor_id` text NOT NULL,
	`message` text,
	`detail` text,
	`created_at` integer NOT NULL,
	`prev_hash` text NOT NULL,
	`hash` text NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `releases_env` ON `releases` (`environment_id`,`seq`);--> statement-breakpoint
CREATE TABLE `runtime_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`environment_id` text NOT NULL,
	`name` text NOT NULL,
	`key_hash` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`environment_id`) REFERENCES `environments`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `runtime_keys_hash` ON `runtime_keys` (`key_hash`);--> statement-breakpoint
CREATE TABLE `secrets` (
	`environment_id` text NOT NULL,
	`name` text NOT NULL,
	`sealed` blob NOT NULL,
	`updated_by` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`environment_id`, `name`),
	FOREIGN KEY (`environment_id`) REFERENCES `environments`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `snapshots` (
	`project_id` text NOT NULL,
	`id` text NOT NULL,
	`tree` text NOT NULL,
	`kind` text NOT NULL,
	`parent_id` text,
	`source_draft_id` text,
	`message` text,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`project_id`, `id`),
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `snapshots_id` ON `snapshots` (`id`);--> statement-breakpoint
CREATE TABLE `variable_overrides` (
	`environment_id` text NOT NULL,
	`name` text NOT NULL,
	`value` text NOT NULL,
	`updated_by` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`environment_id`, `name`),
	FOREIGN KEY (`environment_id`) REFERENCES `environments`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
ALTER TABLE `drafts` ADD `base_snapshot_id` text;--> statement-breakpoint
ALTER TABLE `drafts` ADD `created_by` text;--> statement-breakpoint
ALTER TABLE `drafts` ADD `closed_at` integer;--> statement-breakpoint
ALTER TABLE `environments` ADD `snapshot_id` text;--> statement-breakpoint
ALTER TABLE `environments` ADD `live_snapshot_id` text;--> statement-breakpoint
ALTER TABLE `environments` ADD `overlay_revision` integer DEFAULT 0 NOT NULL;