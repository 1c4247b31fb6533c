-- PG-122: a scheduled release stored before the job table existed gets its job (due at its time).
INSERT INTO `jobs` (`id`, `kind`, `key`, `payload`, `run_at`, `attempts`, `created_at`)
SELECT 'job_' || `id`, 'release.scheduled', `id`, 'null', `at`, 0, `created_at`
FROM `scheduled_releases` WHERE `state` = 'pending'
ON CONFLICT DO NOTHING;
