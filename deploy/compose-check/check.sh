#!/usr/bin/env bash
# `docker compose up` from the repository, then checks that the deployment works:
#   1. every service starts and turns healthy (migrate exits 0 first);
#   2. tasks shipped (pickled) from a one-off container run on both worker containers;
#   3. a run triggered by name over the HTTP API, with a token made in the dashboard
#      container, finishes with its output; the dashboard answers on 8765;
#   4. PostgreSQL restarts: runs are still there (volume) and new runs go through;
#   5. `stop worker` (SIGTERM) while a task runs: the workers drain and the task succeeds.
# Then `down -v`. Needs a Docker engine; where Docker Hub is out of reach, run
# standin-images.sh first. Uses `docker compose` (v2) or else Debian's docker-compose v1,
# which lacks the top-level `name:` key and needs --compatibility for deploy.replicas.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export POSTGRES_PASSWORD="check-$RANDOM" HATCHNB_SIGNING_KEY="key-$RANDOM$RANDOM"
export HATCHNB_DASHBOARD_PASSWORD="pw-$RANDOM"
log() { echo "[compose-check $(date +%H:%M:%S)] $*"; }

if docker compose version >/dev/null 2>&1; then
  compose() { docker compose -f "$root/compose.yaml" "$@"; }
else
  v1_file="$(mktemp --suffix=.yaml)"
  grep -v '^name: ' "$root/compose.yaml" >"$v1_file"
  compose() { docker-compose --compatibility -p hatchnb --project-directory "$root" -f "$v1_file" "$@"; }
fi
trap 'compose logs --no-color >"${COMPOSE_CHECK_LOGS:-/tmp/compose-check.log}" 2>&1 || true; compose down -v >/dev/null 2>&1 || true' EXIT

healthy() {  # service -> every container of it reports healthy
  local ids
  ids="$(compose ps -q "$1")"
  [ -n "$ids" ] || return 1
  for id in $ids; do
    [ "$(docker inspect -f '{{.State.Health.Status}}' "$id")" = healthy ] || return 1
  done
}
wait_for() {  # seconds description command...
  local deadline=$((SECONDS + $1)) what="$2"
  shift 2
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || { log "timed out waiting for $what"; return 1; }
    sleep 2
  done
  log "$what"
}
in_python() {  # one-off container of the image, same environment as the workers
  compose run --rm --no-deps -T --entrypoint python worker -c "$1"
}

log "building the image and starting the deployment"
compose up -d --build
wait_for 240 "postgres healthy" healthy postgres
wait_for 180 "engine healthy" healthy engine
wait_for 180 "both workers healthy" healthy worker
wait_for 180 "dashboard/API healthy (/readyz)" healthy dashboard
[ "$(compose ps -q worker | wc -l)" -eq 2 ] || { log "expected 2 worker containers"; exit 1; }

log "tasks shipped from a one-off container run on the worker containers"
hosts="$(in_python '
import socket, time
from hatchnb import Context, EmptyModel, Hatchet
hatchet = Hatchet()
wf = hatchet.workflow(name="compose-check")
@wf.task()
def where(input: EmptyModel, ctx: Context) -> dict:
    time.sleep(0.3)
    return {"host": socket.gethostname()}
results = wf.run_many([wf.create_bulk_run_item() for _ in range(40)])
print(" ".join(sorted({r["where"]["host"] for r in results})))
' | tail -1)"
log "40 runs ran on: $hosts"
[ "$(wc -w <<<"$hosts")" -eq 2 ] || { log "expected both workers to take runs"; exit 1; }

log "a run triggered over the HTTP API"
token="$(compose exec -T dashboard hatchnb tokens create --name compose-check --scope admin 2>/dev/null | tail -1)"
api=http://127.0.0.1:8080/api/v1
auth="Authorization: Bearer $token"
trigger() {
  curl -sf -H "$auth" -H 'Content-Type: application/json' -d '{"input": {}}' \
    "$api/workflows/compose-check/runs" | python3 -c 'import json, sys; print(json.load(sys.stdin)["run_id"])'
}
run_status() {  # or "unreachable" while the API answers 503 (its database is out of reach)
  local body
  body="$(curl -sf -H "$auth" "$api/runs/$1")" || { echo unreachable; return; }
  python3 -c 'import json, sys; print(json.loads(sys.argv[1])["status"])' "$body"
}
succeeded() { [ "$(run_status "$1")" = SUCCEEDED ]; }
run_id="$(trigger)"
wait_for 60 "run $run_id over the API: SUCCEEDED" succeeded "$run_id"
code="$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8765/)"
log "dashboard answers on 8765: HTTP $code"
[ "$code" = 200 ] || [ "$code" = 302 ] || [ "$code" = 401 ] || { log "dashboard did not answer"; exit 1; }

log "PostgreSQL restarts: the data persists and every service reconnects"
compose restart postgres
wait_for 120 "postgres healthy again" healthy postgres
# PgBouncer refuses logins for server_login_retry (15 s) after failing to log in while
# PostgreSQL was down; the API answers 503 meanwhile
wait_for 60 "run $run_id still SUCCEEDED after the restart" succeeded "$run_id"
after_restart="$(trigger)"
wait_for 120 "a new run after the restart: SUCCEEDED" succeeded "$after_restart"

log "workers drain on SIGTERM"
slow_id="$(in_python '
import time
from hatchnb import Context, EmptyModel, Hatchet
hatchet = Hatchet()
wf = hatchet.workflow(name="compose-check-slow")
@wf.task()
def slow(input: EmptyModel, ctx: Context) -> dict:
    time.sleep(10)
    return {"slept": 10}
ref = wf.run_no_wait()
deadline = time.monotonic() + 60
while str(hatchet.runs.get_status(str(ref))) != "RUNNING" and time.monotonic() < deadline:
    time.sleep(0.2)
print(ref)
' | tail -1)"
compose stop worker
log "run $slow_id after the workers stopped: $(run_status "$slow_id")"
succeeded "$slow_id" || { log "the running task was not drained"; exit 1; }
log "all checks passed"
