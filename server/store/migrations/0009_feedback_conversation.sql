CREATE TABLE `feedback_replies` (
	`id` text PRIMARY KEY NOT NULL,
	`feedback_id` text NOT NULL,
	`created_by` text NOT NULL,
	`author_name` text NOT NULL,
	`text` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`feedback_id`) REFERENCES `feedback`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `feedback_replies_feedback` ON `feedback_replies` (`feedback_id`,`created_at`);--> statement-breakpoint
ALTER TABLE `feedback` ADD `item_name` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `feedback` ADD `resolved_at` integer;--> statement-breakpoint
ALTER TABLE `feedback` ADD `resolved_by` text;