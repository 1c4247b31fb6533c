CREATE TABLE `draft_leases` (
	`draft_id` text PRIMARY KEY NOT NULL,
	`owner_node` text NOT NULL,
	`owner_url` text NOT NULL,
	`epoch` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`draft_id`) REFERENCES `drafts`(`id`) ON UPDATE no action ON DELETE cascade
);
