#!/usr/bin/env bash
# Load benchmark of `phylax serve`: authorize requests per second and p50/p99 latency at
# 1, 16 and 64 concurrent connections over loopback. Bounded: each level runs for
# DURATION seconds (default 10). Not part of the tests.
#
# Needs `wrk` (Debian: apt-get install wrk). Run from the repo root:
#   bash host/bench/load.sh                 # builds the release binary first
#   ENGINE=wasm bash host/bench/load.sh     # decisions through the wasm component
#   bash host/bench/load.sh --json out.json # also write the results as JSON (bench/run does)
# Output: one line per concurrency level, written to host/bench/results-ENGINE.txt, or,
# with --json FILE, to FILE as {"engine", "durationS", "cores", "levels": [...]} instead.
set -euo pipefail

JSON=""
while [ $# -gt 0 ]; do
  case "$1" in
    --json) JSON="${2:?--json needs a file}"; shift 2 ;;
    *) echo "usage: [ENGINE=native|wasm] [DURATION=s] $0 [--json FILE]" >&2; exit 2 ;;
  esac
done
[ -z "$JSON" ] || JSON="$(cd "$(dirname "$JSON")" && pwd)/$(basename "$JSON")"

DURATION="${DURATION:-10}"
ENGINE="${ENGINE:-native}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }

cargo build --release -q -p phylax-host
[ "$ENGINE" = native ] || cargo build --release -q -p phylax-component --target wasm32-wasip2
BIN="$CARGO_TARGET_DIR/release/phylax"
WORK="$(mktemp -d)"
PID=""
# `wait` reaps the server, so its CPU time counts as this script's (bench/run reports it).
trap '{ kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; } || true; rm -rf "$WORK"' EXIT

export PHYLAX_ADMIN_TOKEN="bench-admin-token-0123456789"
"$BIN" serve --engine "$ENGINE" --listen 127.0.0.1:0 --data-dir "$WORK/data" \
  --rate-limit-per-second 10000000 --rate-limit-burst 10000000 >"$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 300); do grep -q "listening" "$WORK/out" 2>/dev/null && break; sleep 0.1; done
BASE="$(sed -n 's/^phylax listening on //p' "$WORK/out")"
[ -n "$BASE" ] || { cat "$WORK/err" >&2; exit 1; }

ADMIN="Authorization: Bearer $PHYLAX_ADMIN_TOKEN"
curl -sf -XPOST "$BASE/v1/tenants" -H "$ADMIN" -d '{"id":"acme"}' >/dev/null
KEY="$(curl -sf -XPOST "$BASE/v1/tenants/acme/api-keys" -H "$ADMIN" -H "X-Phylax-Break-Glass: load benchmark" -d '{"scopes":["authorize"]}' \
  | sed -n 's/.*"apiKey":"\([^"]*\)".*/\1/p')"

# An allowed decision (a provider viewing their patient's record): the hot path, no audit write.
BODY='{"principal":{"type":"User","id":"dr"},"action":{"type":"Action","id":"view"},"resource":{"type":"Record","id":"r1"},"context":{"mfa":true},"entities":[{"uid":{"type":"User","id":"dr"},"attrs":{"tenant":{"type":"Tenant","id":"acme"}},"parents":[{"type":"Role","id":"provider"}]},{"uid":{"type":"User","id":"p1"},"attrs":{"tenant":{"type":"Tenant","id":"acme"},"providers":[{"type":"User","id":"dr"}]},"parents":[{"type":"Role","id":"patient"}]},{"uid":{"type":"Record","id":"r1"},"attrs":{"tenant":{"type":"Tenant","id":"acme"},"patient":{"type":"User","id":"p1"}},"parents":[]}]}'
curl -sf -XPOST "$BASE/v1/authorize" -H "Authorization: Bearer $KEY" -d "$BODY" | grep -q '"decision":"allow"'

cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
LUA

OUT="$ROOT/host/bench/results-$ENGINE.txt"
[ -z "$JSON" ] || OUT="$WORK/results.txt"
echo "phylax load benchmark: POST /v1/authorize (allow), --engine $ENGINE, ${DURATION}s per level, $(nproc) cores" | tee "$OUT"
LEVELS=""
for C in 1 16 64; do
  T=$(( C < 2 ? 1 : 2 ))
  LINE="$(wrk -t"$T" -c"$C" -d"${DURATION}s" --timeout 5s -s "$WORK/post.lua" "$BASE/v1/authorize" | grep '^RESULT')"
  echo "connections=$C ${LINE#RESULT }" | tee -a "$OUT"
  # key=value pairs -> one JSON object (all values are numbers).
  FIELDS="$(sed 's/^RESULT //; s/\([a-z0-9_]*\)=\([0-9.]*\)/"\1":\2/g; s/ /,/g' <<<"$LINE")"
  LEVELS="${LEVELS:+$LEVELS,}{\"connections\":$C,\"threads\":$T,$FIELDS}"
done
if [ -n "$JSON" ]; then
  printf '{"engine":"%s","durationS":%s,"cores":%s,"levels":[%s]}\n' \
    "$ENGINE" "$DURATION" "$(nproc)" "$LEVELS" >"$JSON"
fi
