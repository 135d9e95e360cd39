"""Live updates for widgets: one polling thread per client runs the pollers of unfinished
runs, so widgets keep moving while the kernel is busy with other cells."""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hatchnb.widgets.dag import run_statuses
from hatchnb.widgets.dag_svg import DagWidget

if TYPE_CHECKING:
    from hatchnb.client import Hatchet
    from hatchnb.workflow import Workflow

log = logging.getLogger("hatchnb.widgets")

#: a poller refreshes one widget; it returns False once there is nothing more to follow
Poller = Callable[[], bool]
FINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
POLL_INTERVAL = 0.4
#: how long the end of a notebook cell waits for live widgets to catch up (see settle)
SETTLE_TIMEOUT = 2.0


class Watcher:
    """Calls every registered poller each ``interval`` seconds on one daemon thread; the
    thread ends when no poller is left and starts again with the next one."""

    def __init__(self, interval: float = POLL_INTERVAL) -> None:
        self.interval = interval
        self._pollers: list[Poller] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._rounds = 0
        self._round_done = threading.Condition()

    def add(self, poller: Poller) -> None:
        with self._lock:
            self._pollers.append(poller)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="hatchnb-widgets")
                self._thread.daemon = True
                self._thread.start()
        self._wake.set()

    def _loop(self) -> None:
        while True:
            with self._lock:
                pollers = list(self._pollers)
                if not pollers:
                    self._thread = None
                    return
            finished = [p for p in pollers if not _poll(p)]
            with self._lock:
                self._pollers = [p for p in self._pollers if p not in finished]
            with self._round_done:
                self._rounds += 1
                self._round_done.notify_all()
            self._wake.wait(self.interval)
            self._wake.clear()

    def settle(self, timeout: float) -> None:
        """Wait, at most ``timeout`` seconds, until every poller has run once after this
        call (a round already under way may have read before it), so widgets show what
        the database held when the call was made. Returns at once when nothing is followed."""
        with self._lock:
            if not self._pollers:
                return
        with self._round_done:
            target = self._rounds + 2
        self._wake.set()
        with self._round_done:
            self._round_done.wait_for(lambda: self._rounds >= target, timeout)


def _poll(poller: Poller) -> bool:
    try:
        return poller()
    except Exception:  # a database hiccup must not end live updates for good
        log.debug("widget refresh failed", exc_info=True)
        return True


_watchers: weakref.WeakKeyDictionary[Any, Watcher] = weakref.WeakKeyDictionary()
_watchers_lock = threading.Lock()


def watcher_for(client: Hatchet) -> Watcher:
    with _watchers_lock:
        found = _watchers.get(client)
        if found is None:
            found = _watchers[client] = Watcher()
            _settle_after_cells(found)
        return found


def _settle_after_cells(watcher: Watcher) -> None:
    """In IPython, let every cell end with the live widgets caught up: a cell that waited
    for a run (``result()``) then shows it finished, also in the notebook it saves, instead
    of the last state the polling thread had read before the cell ended."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def after_cell(result: Any = None) -> None:
        watcher.settle(SETTLE_TIMEOUT)

    shell.events.register("post_run_cell", after_cell)


# ---- display helpers ------------------------------------------------------------------


def show(*objects: Any) -> None:
    from IPython import display

    render: Any = display.display
    render(*objects)


def run_dag(client: Hatchet, run_id: str) -> DagWidget:
    """A DAG view of a run that follows it until it finishes."""
    view = DagWidget.from_run(client, run_id)
    follow_dag(client, view, run_id)
    return view


def follow_dag(client: Hatchet, view: DagWidget, run_id: str) -> None:
    def poll() -> bool:
        run = client.runs.get(run_id, task_events=False)
        view.set_status(*run_statuses(run))
        return str(run.status) not in FINAL

    watcher_for(client).add(poll)


def workflow_view(workflow: Workflow[Any]) -> DagWidget:
    return DagWidget.from_workflow(workflow)


def show_workflow(workflow: Workflow[Any]) -> None:
    """How a ``Workflow`` (or a standalone task) displays itself in a notebook."""
    from ipywidgets import HTML

    tasks = ", ".join(t.name for t in workflow.tasks) or "no tasks yet"
    show(workflow_view(workflow).widget, HTML(f"<b>workflow {workflow.name}</b>: {tasks}"))


def show_run(client: Hatchet, run_id: str) -> None:
    """How a ``WorkflowRunRef`` displays itself in a notebook."""
    from hatchnb.widgets.run_widget import RunWidget

    RunWidget(client, run_id)._ipython_display_()
