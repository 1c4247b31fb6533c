ALTER TABLE `drafts` ADD `sections` text;--> statement-breakpoint
ALTER TABLE `projects` ADD `flow_rules` text DEFAULT '{}' NOT NULL;