CREATE INDEX `releases_project` ON `releases` (`project_id`,`seq`);
