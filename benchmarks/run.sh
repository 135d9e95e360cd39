#!/usr/bin/env bash
# hatchnb beside pgqueuer and the raw SKIP LOCKED baseline, measured in one run on
# one throwaway PostgreSQL 15 cluster, then a side-by-side table.
#
#   bash benchmarks/run.sh                                # hatchnb, raw-batched, pgqueuer, shapes
#   PEERS="hatchnb" bash benchmarks/run.sh                # hatchnb only
#   PEERS="pgqueuer raw raw-batched procrastinate hatchnb" bash benchmarks/run.sh
#   HATCHNB_BEFORE=/tmp/wt-before PEERS="hatchnb-before hatchnb shapes-before shapes" \
#       bash benchmarks/run.sh   # also an older checkout (a git worktree), same cluster
#
# "shapes" is bench_shapes.py (3-task chain DAG, 1,000-child fan-out, 1/2/4 worker
# processes); "-before" runs a peer's script from the checkout in HATCHNB_BEFORE, so
# before/after numbers come from one run on one cluster.
#
# The cluster is set up exactly like ../shared/bench/peers/run_all.sh does it
# (initdb, default settings: fsync=on, synchronous_commit=on, shared_buffers=128MB),
# but on its own data directory and port (PG_PORT, default 55433, so a concurrent
# run_all.sh on 55432 is not disturbed), and every peer gets a fresh database.
# The peer scripts are run from the shared folder (read only, nothing is written
# there) with the peers' venv /tmp/peerbench-venv (created from their
# requirements.txt if missing); bench_hatchnb.py runs with the project's .venv.
# Everything started here is stopped by pid on exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT="$(cd "$HERE/.." && pwd)"
PEERS_DIR="$(cd "${PEERBENCH_PEERS_DIR:-$PROJECT/../shared/bench/peers}" && pwd)"
export PEERBENCH_PEERS_DIR="$PEERS_DIR"
VENV="${PEERBENCH_VENV:-/tmp/peerbench-venv}"
HATCHNB_PY="${HATCHNB_PY:-$PROJECT/.venv/bin/python}"
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
PG_PORT="${PG_PORT:-55433}"
PGDATA="/tmp/hatchnb-bench-pg-$$"
TS="$(date -u +%Y%m%dT%H%M%SZ)"
export PEERBENCH_RUN_DIR="${PEERBENCH_RUN_DIR:-/tmp/peerbench-run/hatchnb-$TS}"
RESULTS="${HATCHNB_BENCH_RESULTS:-$HERE/results}"
SUFFIX=""; [ "${PEERBENCH_ANALYZE:-0}" = 1 ] && SUFFIX="-analyze"
OUT="$RESULTS/run-$TS$SUFFIX.jsonl"
# bench_shapes.py's lines have another shape: kept out of the peers' make_results.py input
SHAPES_OUT="$RESULTS/shapes-$TS$SUFFIX.jsonl"
PEERS="${PEERS:-hatchnb raw-batched pgqueuer shapes}"
BEFORE="${HATCHNB_BEFORE:-}"
export PYTHONDONTWRITEBYTECODE=1
export PEERBENCH_PHASE_TIMEOUT="${PEERBENCH_PHASE_TIMEOUT:-420}"
PEER_TIMEOUT="${PEER_TIMEOUT:-1800}"   # hard cap for one peer script, seconds

mkdir -p "$RESULTS" "$PEERBENCH_RUN_DIR"
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# ---- peers' venv (same recipe as run_all.sh) ------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  log "creating venv $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -r "$PEERS_DIR/requirements.txt"
fi
PY="$VENV/bin/python"
[ -x "$HATCHNB_PY" ] || { log "no hatchnb python at $HATCHNB_PY"; exit 1; }

# ---- cleanup of everything we start -------------------------------------------------
PG_STARTED=""
PG_CREATED=""
cleanup() {
  set +e
  if [ -n "$PG_STARTED" ]; then
    log "stopping postgres (pid $(head -1 "$PGDATA/postmaster.pid" 2>/dev/null))"
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" stop -m fast >/dev/null
  fi
  if [ -n "$PG_CREATED" ]; then
    cp "$PGDATA/postgres.log" "$PEERBENCH_RUN_DIR/postgres.log" 2>/dev/null
    rm -rf "$PGDATA"
  fi
}
trap cleanup EXIT INT TERM

as_pg() {  # run a command as the postgres OS user when we are root
  if [ "$(id -u)" = 0 ]; then
    local q; q="$(printf '%q ' "$@")"; su postgres -s /bin/bash -c "$q"
  else
    "$@"
  fi
}

# ---- postgres (same as run_all.sh: initdb + default settings) -----------------------
if (exec 3<>"/dev/tcp/127.0.0.1/$PG_PORT") 2>/dev/null; then
  log "port $PG_PORT is already in use; set PG_PORT=<free port>"; exit 1
fi
log "initdb $PGDATA"
mkdir -p "$PGDATA"; [ "$(id -u)" = 0 ] && chown postgres:postgres "$PGDATA"
as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust >"$PEERBENCH_RUN_DIR/initdb.log"
PG_CREATED=1
as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/postgres.log" -w \
  -o "-h 127.0.0.1 -p $PG_PORT -k /tmp" start >/dev/null
PG_STARTED=1
log "postgres up on port $PG_PORT, pid $(head -1 "$PGDATA/postmaster.pid")"
PSQL=("$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qAt -v ON_ERROR_STOP=1)

# ---- peers ------------------------------------------------------------------------------
run_peer() {  # id python script [ENV=VAL ...]
  local id="$1" python="$2" script="$3"; shift 3
  case "$id" in *-before)
    [ -n "$BEFORE" ] || { log "$id needs HATCHNB_BEFORE=<checkout>"; return; }
    script="$BEFORE/benchmarks/$(basename "$script")"
    set -- PYTHONPATH="$BEFORE" "$@" ;;
  esac
  local db="peerbench_${id//-/_}"
  "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  log "=== $id ($script) on fresh database $db"
  local t0=$SECONDS line rc=0 out="$OUT"
  case "$id" in shapes*) out="$SHAPES_OUT" ;; esac
  line="$(cd "$(dirname "$script")" && env PEERBENCH_DSN="postgresql://postgres@127.0.0.1:$PG_PORT/$db" "$@" \
          timeout "$PEER_TIMEOUT" "$python" "$script" 2>"$PEERBENCH_RUN_DIR/$id.stderr" | tail -1)" || rc=$?
  if [ "$rc" = 0 ] && [ -n "$line" ]; then
    # the script names itself ("hatchnb", "hatchnb-shapes"): mark the older checkout's rows
    case "$id" in *-before) line="$(echo "$line" | sed -E 's/^\{"peer": "([^"]*)"/{"peer": "\1-before"/')" ;; esac
    echo "$line" >>"$out"
    log "$id done in $((SECONDS - t0)) s"
  else
    log "$id FAILED rc=$rc; see $PEERBENCH_RUN_DIR/$id.stderr"
    "$PY" -c 'import json,sys; print(json.dumps({"peer": sys.argv[1], "error": "rc=%s, see %s" % (sys.argv[2], sys.argv[3])}))' \
      "$id" "$rc" "$PEERBENCH_RUN_DIR/$id.stderr" >>"$out"
  fi
}

for p in $PEERS; do
  case "$p" in
    hatchnb|hatchnb-before) run_peer "$p" "$HATCHNB_PY" "$HERE/bench_hatchnb.py" ;;
    shapes|shapes-before)   run_peer "$p" "$HATCHNB_PY" "$HERE/bench_shapes.py" ;;
    pgqueuer)      run_peer pgqueuer "$PY" "$PEERS_DIR/bench_pgqueuer.py" ;;
    raw)           run_peer raw "$PY" "$PEERS_DIR/bench_raw_skiplocked.py" ;;
    raw-batched)   run_peer raw-batched "$PY" "$PEERS_DIR/bench_raw_batched.py" ;;
    procrastinate) run_peer procrastinate "$PY" "$PEERS_DIR/bench_procrastinate.py" ;;
    *) log "unknown peer $p (known here: hatchnb shapes hatchnb-before shapes-before pgqueuer raw raw-batched procrastinate)" ;;
  esac
done

log "results of this run: $OUT (logs in $PEERBENCH_RUN_DIR)"
# the peers' full report format (all runs in $RESULTS), then this run's side-by-side table
if "$PY" "$PEERS_DIR/make_results.py" "$RESULTS" >"$RESULTS/results.md"; then
  log "wrote $RESULTS/results.md"
else
  log "make_results.py failed (see above); the table below is still this run's"
fi
SHAPES_FILE=(); [ -f "$SHAPES_OUT" ] && SHAPES_FILE=("$SHAPES_OUT")
"$HATCHNB_PY" "$HERE/table.py" "$OUT" "${SHAPES_FILE[@]}" | tee "$RESULTS/table-$TS$SUFFIX.md"
