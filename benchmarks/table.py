"""Side-by-side table of one benchmark run (a results/run-*.jsonl file) plus the
hatchnb targets of issue 15.  Usage: python table.py results/run-<ts>.jsonl [more ...]

Standard library only.  Rows are the JSON lines printed by bench_hatchnb.py and by
the peer scripts of ../shared/bench/peers (same shape); bench_shapes.py's lines
(peer "hatchnb-shapes") get a table of their own. Rows of an older checkout measured
in the same run end in "-before".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TARGET_RATIO_C10 = 4.0  # hatchnb C=10 / pgqueuer C=10, same run
TARGET_SHARE_OF_RAW = 0.25  # hatchnb C=10 / raw-batched C=10, same run
TARGET_P50_MS = 3.0
TARGET_P99_MS = 10.0
TARGET_C1_GAIN = 2.0  # hatchnb C=1 / hatchnb-before C=1, same run
TARGET_CHAIN_RUNS = 2_000.0  # 3-task chain DAG runs/s, one worker process
TARGET_FANOUT_S = 2.0  # 1,000 children of one parent task finished


def rate(d: dict | None) -> float | None:
    return None if not d else d.get("jobs_per_s")


def fmt(v: float | None, d: dict | None = None) -> str:
    if v is None:
        return "-"
    s = f"{v:,.0f}" if v >= 10 else f"{v:.1f}"
    if d is not None and d.get("complete") is False:
        s += f"* ({d['done']}/{d['n']})"
    return s


def bulk(d: dict) -> float | None:
    vals = [v["jobs_per_s"] for v in (d.get("bulk_enqueue") or {}).values()]
    return sum(vals) / len(vals) if vals else None


def short_peer(d: dict) -> str:
    return d["peer"].split(" (")[0]


def main(paths: list[str]) -> None:
    rows = []
    for p in paths:
        rows += [json.loads(line) for line in Path(p).read_text().splitlines() if line.strip()]
    out = [
        f"Run: {', '.join(Path(p).name for p in paths)}",
        "",
        "| peer | enqueue/s bulk | enqueue/s single | processed/s C=1 "
        "| processed/s C=10 | latency p50 / p95 / p99 (ms) | C=1 / C=10 steady jobs/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    by = {}
    shapes = [d for d in rows if d.get("peer", "").startswith("hatchnb-shapes")]
    for d in rows:
        if d in shapes:
            by[d["peer"]] = d
            continue
        if "error" in d:
            out.append(f"| {d['peer']} | failed: {d['error']} | | | | | |")
            continue
        by[short_peer(d)] = d
        proc = d.get("process") or {}
        lat = d.get("latency") or {}
        lat_s = (
            f"{lat['p50_ms']:.1f} / {lat['p95_ms']:.1f} / {lat['p99_ms']:.1f}"
            if lat.get("started")
            else "-"
        )
        if lat.get("started") and lat["started"] < lat["n"]:
            lat_s += f" ({lat['started']}/{lat['n']} started)"
        steady = " / ".join(
            fmt((proc.get(k) or {}).get("steady_jobs_per_s")) for k in ("c1", "c10")
        )
        single = d.get("single_enqueue")
        out.append(
            " | ".join(
                [
                    f"| {short_peer(d)}",
                    fmt(bulk(d)),
                    fmt(rate(single), single),
                    fmt(rate(proc.get("c1")), proc.get("c1")),
                    fmt(rate(proc.get("c10")), proc.get("c10")),
                    lat_s,
                    steady + " |",
                ]
            )
        )
    out.append("")

    out += shapes_table(shapes)
    out += curve_lines(shapes, by.get("raw-batched"))
    out += [f"* {c}" for c in checks_of(by)]
    print("\n".join(out))


def c10(d: dict | None) -> float | None:
    return rate(((d or {}).get("process") or {}).get("c10"))


def c1(d: dict | None) -> float | None:
    return rate(((d or {}).get("process") or {}).get("c1"))


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def checks_of(by: dict) -> list[str]:
    h = by.get("hatchnb")
    if not h:
        return []
    checks = []
    h10 = c10(h)
    for peer, target, what in (
        ("pgqueuer", TARGET_RATIO_C10, "x"),
        ("raw-batched", TARGET_SHARE_OF_RAW, " of the raw batched limit"),
        ("raw-skiplocked", None, ""),
        ("hatchnb-before", None, ""),
    ):
        other = c10(by.get(peer))
        if h10 and other:
            ratio = h10 / other
            goal = f" (target >= {target:g}{what}: {verdict(ratio >= target)})" if target else ""
            checks.append(
                f"hatchnb C=10 / {peer} C=10 = {h10:,.0f} / {other:,.0f} = **{ratio:.2f}x**{goal}"
            )
    before1, h1 = c1(by.get("hatchnb-before")), c1(h)
    if before1 and h1:
        gain = h1 / before1
        checks.append(
            f"hatchnb C=1 / hatchnb-before C=1 = {h1:,.0f} / {before1:,.0f} = **{gain:.2f}x** "
            f"(target >= {TARGET_C1_GAIN:g}x: {verdict(gain >= TARGET_C1_GAIN)})"
        )
    lat = h.get("latency") or {}
    if lat.get("started"):
        ok = lat["p50_ms"] <= TARGET_P50_MS and lat["p99_ms"] <= TARGET_P99_MS
        checks.append(
            f"hatchnb latency p50 {lat['p50_ms']:.1f} ms / p99 {lat['p99_ms']:.1f} ms "
            f"(target p50 <= {TARGET_P50_MS:g}, p99 <= {TARGET_P99_MS:g}: {verdict(ok)})"
        )
    b, pb = bulk(h), bulk(by.get("pgqueuer") or {})
    if b and pb:
        checks.append(
            f"hatchnb bulk enqueue {b:,.0f} tasks/s / pgqueuer {pb:,.0f} = **{b / pb:.2f}x** "
            f"(target >= 1x: {verdict(b >= pb)})"
        )
    sh = by.get("hatchnb-shapes")
    if sh:
        chain = rate(sh.get("chain"))
        if chain:
            checks.append(
                f"3-task chain DAG {chain:,.0f} runs/s (target >= {TARGET_CHAIN_RUNS:,.0f}: "
                f"{verdict(chain >= TARGET_CHAIN_RUNS)})"
            )
        fan = (sh.get("fanout") or {}).get("median_s")
        if fan is not None:
            checks.append(
                f"fan-out of 1,000 children {fan:.2f} s (target < {TARGET_FANOUT_S:g} s: "
                f"{verdict(fan < TARGET_FANOUT_S)})"
            )
    return checks


def shapes_table(shapes: list[dict]) -> list[str]:
    """bench_shapes.py's numbers: chain DAG, fan-out, worker-process curve."""
    if not shapes:
        return []
    out = [
        "| peer | chain DAG runs/s (tasks/s) | fan-out 1,000 children (s) "
        "| no-op/s with 1 / 2 / 4 worker processes |",
        "|---|---:|---:|---:|",
    ]
    for d in shapes:
        if "error" in d:
            out.append(f"| {d['peer']} | failed: {d['error']} | | |")
            continue
        chain, fan, procs = d.get("chain") or {}, d.get("fanout") or {}, d.get("processes") or {}
        curve = " / ".join(fmt(procs.get(k)) for k in ("p1", "p2", "p4"))
        seconds = ", ".join(f"{v:.2f}" for v in fan.get("seconds", []))
        out.append(
            f"| {d['peer']} | {fmt(rate(chain))} ({fmt(chain.get('tasks_per_s'))}) "
            f"| {seconds} | {curve} |"
        )
    return [*out, ""]


def curve_lines(shapes: list[dict], raw: dict | None) -> list[str]:
    """The worker-process curve of each shapes row: no-op/s per process count, its growth
    over one process and its share of raw-batched C=10 measured in the same run."""
    out = []
    raw10 = c10(raw)
    for d in shapes:
        procs = d.get("processes") or {}
        counts = sorted(int(k[1:]) for k in procs if k[:1] == "p" and k[1:].isdigit())
        base = procs.get("p1")
        if not counts or not base:
            continue
        cells = []
        for n in counts:
            v = procs.get(f"p{n}")
            if v is None:
                cells.append(f"{n}: -")
                continue
            share = f", {v / raw10:.0%} of raw-batched" if raw10 else ""
            cells.append(f"{n}: {v:,.0f}/s (x{v / base:.2f}{share})")
        ref = f"; raw-batched C=10 in this run {raw10:,.0f}/s" if raw10 else ""
        out.append(
            f"* {d['peer']} worker processes x {procs.get('slots_per_process', '?')} slots: "
            + "; ".join(cells)
            + ref
        )
    return [*out, ""] if out else []


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
