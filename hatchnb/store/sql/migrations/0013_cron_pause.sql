-- One cron paused on its own (hatchet.cron.pause, issue 17): its ticks start no run until
-- it is unpaused, when it resumes at its next tick (missed ticks: hatchet.cron.backfill).
ALTER TABLE hatchnb.crons ADD COLUMN paused_at timestamptz;
