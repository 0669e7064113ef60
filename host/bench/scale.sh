#!/usr/bin/env bash
# Scale-out load benchmark of `phylax serve`, one run, every figure side by side:
#   - decisions/s and latency of one node on SQLite, one node on PostgreSQL and two nodes
#     on one PostgreSQL database: allowed decisions only, and the healthcare pack's mix
#     for one tenant (728 requests, 76% denials, each denial audited before the answer);
#   - audited appends/s (POST one event to /audit/events) for one tenant and for 16
#     tenants, with group commit (the default) and with one commit per request
#     (`--audit-batch-max 1`), on both backends.
# wrk runs on the same machine as the servers and the database (2 cores here), CONNS
# connections (default 16), DURATION seconds per run (default 10). Bounded; starts and
# stops its own throwaway PostgreSQL cluster (scripts/pg). Not part of the tests.
#
# Usage: bash host/bench/scale.sh [--json FILE]     (bench/run --only scale runs it)
set -euo pipefail

JSON=""
while [ $# -gt 0 ]; do
  case "$1" in
    --json) JSON="${2:?--json needs a file}"; shift 2 ;;
    *) echo "usage: [DURATION=s] [CONNS=n] $0 [--json FILE]" >&2; exit 2 ;;
  esac
done
[ -z "$JSON" ] || JSON="$(cd "$(dirname "$JSON")" && pwd)/$(basename "$JSON")"

DURATION="${DURATION:-10}"
CONNS="${CONNS:-16}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
cargo build --release -q -p phylax-host
BIN="$CARGO_TARGET_DIR/release/phylax"
WORK="$(mktemp -d /tmp/phylax-scale.XXXXXX)"
# The cluster's dir must be reachable by the postgres user: not inside the 0700 $WORK.
PGDIR="$(mktemp -u /tmp/phylax-pg.XXXXXX)"
PIDS=()
stop_nodes() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  PIDS=()
}
trap 'stop_nodes; bash "$ROOT/scripts/pg" stop "$PGDIR" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

PG="$(bash "$ROOT/scripts/pg" start "$PGDIR")"
export PHYLAX_ADMIN_TOKEN="bench-admin-token-0123456789"
key() { python3 -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))'; }
PHYLAX_ROOT_KEY="$(key)"; PHYLAX_AUDIT_KEY="$(key)"; PHYLAX_BUNDLE_SIGNING_KEY="$(key)"
export PHYLAX_ROOT_KEY PHYLAX_AUDIT_KEY PHYLAX_BUNDLE_SIGNING_KEY
python3 - "$ROOT/core/tests/pack_cases.json" "$WORK" <<'PY'
import json, sys
cases = json.load(open(sys.argv[1]))
work = sys.argv[2]
json.dump(cases["baseEntities"], open(f"{work}/entities.json", "w"))
def tenant(r):
    res = r["resource"]
    if res["type"] == "Tenant":
        return res["id"]
    return next(e["attrs"]["tenant"]["id"] for e in r["entities"] if e["uid"] == res)
with open(f"{work}/mix.txt", "w") as f:
    for c in cases["cases"]:
        if tenant(c["request"]) == "acme":
            f.write(json.dumps(c["request"], separators=(",", ":")) + "\n")
PY

# start_node NAME STORE [ARGS...]: starts a node, sets BASE.
start_node() {
  local name="$1" store="$2"; shift 2
  PHYLAX_STORE="$store" "$BIN" serve --listen 127.0.0.1:0 --data-dir "$WORK/$name" \
    --entities-file "$WORK/entities.json" \
    --rate-limit-per-second 10000000 --rate-limit-burst 10000000 "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PIDS+=($!)
  for _ in $(seq 300); do grep -q "listening" "$WORK/$name.out" 2>/dev/null && break; sleep 0.1; done
  BASE="$(sed -n 's/^phylax listening on //p' "$WORK/$name.out")"
  [ -n "$BASE" ] || { cat "$WORK/$name.err" >&2; exit 1; }
}

ADMIN="Authorization: Bearer $PHYLAX_ADMIN_TOKEN"
# setup BASE: tenants acme and t01..t16, keys; writes the wrk inputs.
setup() {
  local base="$1"
  curl -sf -XPOST "$base/v1/tenants" -H "$ADMIN" -d '{"id":"acme"}' >/dev/null
  AUTHZ_KEY="$(curl -sf -XPOST "$base/v1/tenants/acme/api-keys" -H "$ADMIN" -H "X-Phylax-Break-Glass: load benchmark" -d '{"scopes":["authorize"]}' | sed -n 's/.*"apiKey":"\([^"]*\)".*/\1/p')"
  : >"$WORK/ingest16.txt"
  for i in $(seq -w 1 16); do
    curl -sf -XPOST "$base/v1/tenants" -H "$ADMIN" -d "{\"id\":\"t$i\"}" >/dev/null
    local k
    k="$(curl -sf -XPOST "$base/v1/tenants/t$i/api-keys" -H "$ADMIN" -H "X-Phylax-Break-Glass: load benchmark" -d '{"scopes":["audit:write"]}' | sed -n 's/.*"apiKey":"\([^"]*\)".*/\1/p')"
    printf '/v1/tenants/t%s/audit/events\t%s\t{"events":[{"tenant":"t%s","actor":{"id":"edge"},"action":"view","operation":"bench","time":%s,"outcome":"success"}]}\n' \
      "$i" "$k" "$i" "$(date +%s)" >>"$WORK/ingest16.txt"
  done
  head -1 "$WORK/ingest16.txt" >"$WORK/ingest1.txt"
}

# The allowed decision of host/bench/load.sh (a provider viewing their patient's record).
ALLOW='{"principal":{"type":"User","id":"dr"},"action":{"type":"Action","id":"view"},"resource":{"type":"Record","id":"r1"},"context":{"mfa":true},"entities":[{"uid":{"type":"User","id":"dr"},"attrs":{"tenant":{"type":"Tenant","id":"acme"}},"parents":[{"type":"Role","id":"provider"}]},{"uid":{"type":"User","id":"p1"},"attrs":{"tenant":{"type":"Tenant","id":"acme"},"providers":[{"type":"User","id":"dr"}]},"parents":[{"type":"Role","id":"patient"}]},{"uid":{"type":"Record","id":"r1"},"attrs":{"tenant":{"type":"Tenant","id":"acme"},"patient":{"type":"User","id":"p1"}},"parents":[]}]}'

write_lua() {
  cat >"$WORK/lines.lua" <<'LUA'
-- Each request is the next line of the input file: a body (with the key in KEY) or
-- "path<TAB>key<TAB>body".
local lines = {}
local i = 0
function init(args)
  for l in io.lines(args[1]) do lines[#lines + 1] = l end
  i = math.random(#lines) - 1
end
function request()
  i = i % #lines + 1
  local l = lines[i]
  local path, key, body = l:match("^([^\t]*)\t([^\t]*)\t(.*)$")
  if not path then path, key, body = wrk.path, os.getenv("KEY"), l end
  return wrk.format("POST", path, {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}, body)
end
function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d non2xx=%d rps=%.0f p50_ms=%.3f p99_ms=%.3f\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000))
end
LUA
}
write_lua
printf '%s\n' "$ALLOW" >"$WORK/allow.txt"

RESULTS=""
# run LABEL STORE NODES WORKLOAD INPUT URLPATH BASE...
run() {
  local label="$1" store="$2" nodes="$3" workload="$4" input="$5" path="$6"; shift 6
  local n=$# per=$(( CONNS / $# )) i=0 outs=()
  for base in "$@"; do
    i=$((i + 1))
    KEY="$AUTHZ_KEY" wrk -t2 -c"$per" -d"${DURATION}s" --timeout 5s -s "$WORK/lines.lua" "$base$path" -- "$input" \
      >"$WORK/wrk-$i.txt" 2>&1 &
    outs+=($!)
  done
  for p in "${outs[@]}"; do wait "$p"; done
  local rps=0 p99=0 p50=0 errors=0 non2xx=0 line
  for f in $(seq 1 "$n"); do
    line="$(grep '^RESULT' "$WORK/wrk-$f.txt")" || { cat "$WORK/wrk-$f.txt" >&2; exit 1; }
    eval "$(sed 's/^RESULT //; s/\([a-z0-9_]*\)=/local_\1=/g' <<<"$line")"
    rps=$((rps + local_rps)); errors=$((errors + local_errors)); non2xx=$((non2xx + local_non2xx))
    p99=$(python3 -c "print(max($p99, $local_p99_ms))"); p50=$(python3 -c "print(max($p50, $local_p50_ms))")
  done
  printf '%-40s %-9s nodes=%s %8s/s p50 %6s ms p99 %6s ms errors %s non-2xx %s\n' "$label" "$store" "$nodes" "$rps" "$p50" "$p99" "$errors" "$non2xx"
  RESULTS="${RESULTS:+$RESULTS,}{\"label\":\"$label\",\"store\":\"$store\",\"nodes\":$nodes,\"workload\":\"$workload\",\"connections\":$CONNS,\"rps\":$rps,\"p50Ms\":$p50,\"p99Ms\":$p99,\"errors\":$errors,\"non2xx\":$non2xx}"
}

new_pg_db() { # new_pg_db NAME -> URL
  bash "$ROOT/scripts/pg" psql "$PGDIR" -qc "CREATE DATABASE $1" >/dev/null
  echo "${PG%/*}/$1"
}

echo "phylax scale-out benchmark: ${DURATION}s per run, $CONNS connections, $(nproc) cores, wrk on the same machine"

# One SQLite node.
start_node sqlite ""
setup "$BASE"
run "allowed decisions" sqlite 1 allow "$WORK/allow.txt" /v1/authorize "$BASE"
run "pack mix (76% denials, audited)" sqlite 1 mix "$WORK/mix.txt" /v1/authorize "$BASE"
run "audited appends, 1 tenant" sqlite 1 append-1 "$WORK/ingest1.txt" / "$BASE"
run "audited appends, 16 tenants" sqlite 1 append-16 "$WORK/ingest16.txt" / "$BASE"
stop_nodes
start_node sqlite1 "" --audit-batch-max 1
setup "$BASE"
run "pack mix, one commit per request" sqlite 1 mix-single "$WORK/mix.txt" /v1/authorize "$BASE"
run "audited appends, 1 tenant, one commit each" sqlite 1 append-1-single "$WORK/ingest1.txt" / "$BASE"
run "audited appends, 16 tenants, one commit each" sqlite 1 append-16-single "$WORK/ingest16.txt" / "$BASE"
stop_nodes

# One PostgreSQL node, then two on one database.
DB="$(new_pg_db bench1)"
start_node pg1 "$DB"
setup "$BASE"
run "allowed decisions" postgres 1 allow "$WORK/allow.txt" /v1/authorize "$BASE"
run "pack mix (76% denials, audited)" postgres 1 mix "$WORK/mix.txt" /v1/authorize "$BASE"
run "audited appends, 1 tenant" postgres 1 append-1 "$WORK/ingest1.txt" / "$BASE"
run "audited appends, 16 tenants" postgres 1 append-16 "$WORK/ingest16.txt" / "$BASE"
B1="$BASE"
start_node pg2 "$DB"
B2="$BASE"
run "allowed decisions" postgres 2 allow "$WORK/allow.txt" /v1/authorize "$B1" "$B2"
run "pack mix (76% denials, audited)" postgres 2 mix "$WORK/mix.txt" /v1/authorize "$B1" "$B2"
run "audited appends, 1 tenant" postgres 2 append-1 "$WORK/ingest1.txt" / "$B1" "$B2"
stop_nodes
DB="$(new_pg_db bench2)"
start_node pg1s "$DB" --audit-batch-max 1
setup "$BASE"
run "pack mix, one commit per request" postgres 1 mix-single "$WORK/mix.txt" /v1/authorize "$BASE"
run "audited appends, 1 tenant, one commit each" postgres 1 append-1-single "$WORK/ingest1.txt" / "$BASE"
run "audited appends, 16 tenants, one commit each" postgres 1 append-16-single "$WORK/ingest16.txt" / "$BASE"
stop_nodes

if [ -n "$JSON" ]; then
  printf '{"durationS":%s,"connections":%s,"cores":%s,"runs":[%s]}\n' "$DURATION" "$CONNS" "$(nproc)" "$RESULTS" >"$JSON"
fi
