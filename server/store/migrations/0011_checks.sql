CREATE TABLE `environment_checks` (
	`environment_id` text NOT NULL,
	`snapshot_id` text NOT NULL,
	`name` text NOT NULL,
	`state` text NOT NULL,
	`url` text,
	`summary` text,
	`reported_by` text NOT NULL,
	`reported_at` integer NOT NULL,
	PRIMARY KEY(`environment_id`, `snapshot_id`, `name`),
	FOREIGN KEY (`environment_id`) REFERENCES `environments`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
ALTER TABLE `gate_policies` ADD `required_checks` text DEFAULT '[]' NOT NULL;