CREATE INDEX `releases_replicated` ON `releases` (`environment_id`,json_extract(`detail`, '$.section'),`seq`) WHERE `kind` = 'replicate';
