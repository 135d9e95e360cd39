"""The run page's "Fork from here" and lineage, and the diff page, in headless Chromium
against the real Panel server, database and worker (screenshots in tests/artifacts)."""

from __future__ import annotations

from typing import Any

import pytest

from hatchnb import Context
from tests.conftest import wait_until
from tests.dashboard.test_roles import FORCE_ENABLE, login, served, users
from tests.dashboard.test_xss import PAYLOAD, _no_script_ran, _record_dialogs, hostile

__all__ = ["hostile", "login", "served", "users"]  # fixtures shared with those modules

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def _visible(page: Any, text: str) -> Any:
    found = page.get_by_text(text, exact=False).first
    found.wait_for(state="visible", timeout=15_000)
    return found


def test_fork_from_the_run_page_then_follow_lineage_to_the_diff(
    page: Any, hatchet: Any, start_worker: Any
) -> None:
    wf = hatchet.workflow(name="dashloop")
    factor = {"k": 2}

    @wf.task()
    def base(input: Any, ctx: Context) -> dict[str, int]:
        return {"n": 5}

    @wf.task(parents=[base])
    def scaled(input: Any, ctx: Context) -> dict[str, int]:
        return {"n": ctx.task_output(base)["n"] * factor["k"]}

    start_worker(wf)
    source = wf.run_no_wait()
    source.result(timeout=30)
    factor["k"] = 3

    p = page.open(f"?page=run&id={source.workflow_run_id}")
    p.locator("select").first.select_option("scaled")
    p.get_by_role("button", name="Fork from here").click()
    _visible(p, "forked at scaled:")
    forks = wait_until(lambda: hatchet.runs.forks(source.workflow_run_id), 10, "the fork")
    fork_id = forks[0]["run_id"]
    _visible(p, "forks:")
    page.shot("run-with-fork")

    p.locator(f"a[href='?page=run&id={fork_id}']").first.click()
    _visible(p, "forked from")
    wait_until(lambda: hatchet.runs.get_status(fork_id) == "SUCCEEDED", 20, "the fork to end")
    _visible(p, "what changed").click()
    row = p.locator("tr[data-task='scaled']")
    row.wait_for(timeout=15_000)
    assert "$.n: 10 -> 15" in row.inner_text()
    reused = p.locator("tr[data-task='base']").inner_text()
    assert "SUCCEEDED (reused)" in reused and "same code" in reused
    _visible(p, "1 of 2 tasks differ")
    page.shot("run-diff")
    assert page.errors == []


def test_the_diff_page_explains_bad_arguments(page: Any, hatchet: Any) -> None:
    p = page.open("?page=diff&a=nope")
    _visible(p, "give two runs")
    p = page.open("?page=diff&a=nope&b=00000000-0000-0000-0000-000000000000")
    _visible(p, "badly formed hexadecimal UUID string")


def test_a_viewer_cannot_fork_even_by_forcing_the_button(
    login: Any, seeded: dict[str, Any], hatchet: Any
) -> None:
    p = login("vera").open(f"?page=run&id={seeded['ok']}")
    p.get_by_text("vera (viewer)").wait_for(timeout=15_000)
    fork = p.get_by_role("button", name="Fork from here")
    assert fork.is_disabled()
    p.evaluate(FORCE_ENABLE, "Fork from here")
    wait_until(fork.is_enabled, 5, "the forced button enabled")
    fork.click()
    p.get_by_text("vera is a viewer: to fork runs you need the operator role").wait_for(
        timeout=10_000
    )
    assert hatchet.runs.forks(seeded["ok"]) == []
    assert hatchet.audit.list() == []


def test_an_operators_fork_is_audited(login: Any, seeded: dict[str, Any], hatchet: Any) -> None:
    p = login("otto").open(f"?page=run&id={seeded['ok']}")
    p.get_by_role("button", name="Fork from here").click()
    forks = wait_until(lambda: hatchet.runs.forks(seeded["ok"]), 15, "the fork")
    wait_until(lambda: hatchet.audit.list(), 15, "the audit entry")
    [entry] = hatchet.audit.list()
    assert (entry.actor, entry.action, entry.target) == ("otto", "fork", seeded["ok"])
    assert entry.detail["run"] == forks[0]["run_id"]


def test_hostile_names_stay_text_in_lineage_and_diff(page: Any, hostile: dict[str, Any]) -> None:
    source = hostile["run"]
    dialogs = _record_dialogs(page.page)
    p = page.open(f"?page=run&id={source}")
    p.locator("select").first.select_option("fails")
    p.get_by_role("button", name="Fork from here").click()
    p.get_by_text("forked at fails:").wait_for(timeout=15_000)
    p.get_by_text("forks:").first.wait_for(timeout=15_000)
    p.wait_for_timeout(300)
    _no_script_ran(p, dialogs)
    p.get_by_text("what changed").first.click()
    row = p.locator("tr[data-task='fails']")
    row.wait_for(timeout=15_000)
    p.get_by_text(f"task {PAYLOAD}").first.wait_for(timeout=15_000)
    p.wait_for_timeout(300)
    _no_script_ran(p, dialogs)
