CREATE INDEX `feedback_open` ON `feedback` (`environment_id`) WHERE `resolved_at` IS NULL;--> statement-breakpoint
CREATE INDEX `releases_replicated` ON `releases` (`environment_id`,json_extract(`detail`, '$.section'),`seq`) WHERE `kind` = 'replicate';
