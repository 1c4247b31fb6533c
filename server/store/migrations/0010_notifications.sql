CREATE TABLE `notifications` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`user_id` text NOT NULL,
	`project_id` text NOT NULL,
	`environment_id` text,
	`kind` text NOT NULL,
	`title` text NOT NULL,
	`href` text NOT NULL,
	`request_id` text,
	`event_seq` integer NOT NULL,
	`created_at` integer NOT NULL,
	`read_at` integer
);
--> statement-breakpoint
CREATE INDEX `notifications_user` ON `notifications` (`user_id`,`id`);--> statement-breakpoint
CREATE INDEX `notifications_request` ON `notifications` (`request_id`);