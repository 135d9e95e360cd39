"""Engine duty: refresh the claim's statistics after a burst of task rows."""

from __future__ import annotations

from hatchnb.store.engine import LeaderSession

#: task rows changed since the last analyze that make the leader refresh the claim's statistics
STATISTICS_THRESHOLD = 5000


class StatisticsDuty:
    """Without fresh statistics a burst of new tasks makes the claim query sort the whole
    backlog; autovacuum reacts within a minute, this within one engine round. The analyze
    names the claim's columns and samples 3,000 rows, so it stays cheap on a big table,
    but it does not reset n_mod_since_analyze: the changes counter at the last one is
    remembered here (per leader; a counter that went back, a stats reset, counts whole)."""

    name = "statistics"
    interval = 0.0

    def __init__(self) -> None:
        #: task_runs' changes counter at this leader's last statistics refresh
        self.analyzed_at_changes = 0

    async def run(self, session: LeaderSession) -> None:
        stats = await session.queue_statistics()
        if stats is None:
            return
        baseline = self.analyzed_at_changes
        since_ours = stats.changes - baseline if stats.changes >= baseline else stats.changes
        if min(stats.since_analyze, since_ours) > STATISTICS_THRESHOLD:
            await session.analyze_task_runs()
            self.analyzed_at_changes = stats.changes
