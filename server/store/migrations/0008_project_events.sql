CREATE TABLE `project_events` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`project_id` text NOT NULL,
	`environment_id` text,
	`kind` text NOT NULL,
	`actor_id` text,
	`recipient_id` text,
	`subject` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `project_events_project` ON `project_events` (`project_id`,`seq`);