-- Durable task branches (Hatchet's reset_durable_task): resetting a durable task from a node
-- starts a new branch of its log holding the entries before that node, so the task replays
-- them and redoes everything from the node on. The newest branch is the one a task reads;
-- each branch starts with a 'branch' marker at seq 0 saying where it came from.
ALTER TABLE hatchnb.durable_events ADD COLUMN branch integer NOT NULL DEFAULT 1;
ALTER TABLE hatchnb.durable_events DROP CONSTRAINT durable_events_pkey;
ALTER TABLE hatchnb.durable_events ADD PRIMARY KEY (task_run_id, branch, seq);
