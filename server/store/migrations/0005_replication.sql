CREATE TABLE `replication_bases` (
	`draft_id` text NOT NULL,
	`section` text NOT NULL,
	`item_id` text NOT NULL,
	`base_blob_id` text,
	`conflict_blob_id` text,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`draft_id`, `section`, `item_id`),
	FOREIGN KEY (`draft_id`) REFERENCES `drafts`(`id`) ON UPDATE no action ON DELETE cascade
);
