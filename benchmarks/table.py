"""Side-by-side table of one benchmark run (a results/run-*.jsonl file) plus the
hatchnb targets.  Usage: python table.py results/run-<ts>.jsonl [more.jsonl ...]

Standard library only.  Rows are the JSON lines printed by bench_hatchnb.py and by
the peer scripts of ../shared/bench/peers (same shape).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TARGET_RATIO_C10 = 2.0  # hatchnb C=10 / pgqueuer C=10, same run
TARGET_P50_MS = 5.0
TARGET_P99_MS = 15.0
TARGET_BULK = 30_000.0  # tasks/s


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
    return d["peer"].replace(" (baseline)", "")


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
    for d in rows:
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

    h, pgq = by.get("hatchnb"), by.get("pgqueuer")
    checks = []
    if h:
        h10 = rate((h.get("process") or {}).get("c10"))
        if pgq:
            p10 = rate((pgq.get("process") or {}).get("c10"))
            if h10 and p10:
                ratio = h10 / p10
                verdict = "met" if ratio >= TARGET_RATIO_C10 else "NOT met"
                checks.append(
                    f"hatchnb C=10 / pgqueuer C=10 = {h10:,.0f} / {p10:,.0f} = "
                    f"**{ratio:.2f}x** (target >= {TARGET_RATIO_C10:.0f}x: {verdict})"
                )
        raw = by.get("raw-skiplocked")
        if raw:
            r10 = rate((raw.get("process") or {}).get("c10"))
            if h10 and r10:
                checks.append(f"hatchnb C=10 / raw-skiplocked C=10 = {h10 / r10:.2f}x")
        lat = h.get("latency") or {}
        if lat.get("started"):
            ok = lat["p50_ms"] <= TARGET_P50_MS and lat["p99_ms"] <= TARGET_P99_MS
            checks.append(
                f"hatchnb latency p50 {lat['p50_ms']:.1f} ms / "
                f"p99 {lat['p99_ms']:.1f} ms "
                f"(target p50 <= {TARGET_P50_MS:.0f}, p99 <= {TARGET_P99_MS:.0f}: "
                f"{'met' if ok else 'NOT met'})"
            )
        b = bulk(h)
        if b:
            each = ", ".join(
                f"{v['jobs_per_s']:,.0f}" for v in (h.get("bulk_enqueue") or {}).values()
            )
            checks.append(
                f"hatchnb bulk enqueue {b:,.0f} tasks/s (mean of {each}; target >= "
                f"{TARGET_BULK:,.0f}: {'met' if b >= TARGET_BULK else 'NOT met'})"
            )
    out += [f"* {c}" for c in checks]
    print("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
