#!/usr/bin/env bash
# Usage: tools/api-fuzz/run.sh [DLAD_BINARY]   (or DLAD_BIN=...; default .build/debug/dlad)
#
# Property-based tests of dlad's socket API against docs/openapi.yaml: validates the document,
# starts the given dlad on a fresh state directory (firmware models seeded and active), relays a
# local TCP port to its UNIX socket (schemathesis speaks TCP only) and runs schemathesis on every
# operation: no 5xx, every status, content type, header and body as documented, 405 with `Allow`
# for undocumented methods. Then stops dlad with SIGTERM, which must exit 0.
#
# Settings (environment): API_FUZZ_EXAMPLES (test cases per operation and phase, default 200: about a minute),
# API_FUZZ_SEED (replay a run), API_FUZZ_WORKERS (default 1: hypothesis is not thread-safe on CPython 3.11), API_FUZZ_KEEP=1 (keep the work
# directory: dlad's log, its state, the JUnit report). The work directory is kept on failure.
# Prints "N passed, N failed" (operations, plus dlad itself) last; exits non-zero on any failure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
dlad="${1:-${DLAD_BIN:-$root/.build/debug/dlad}}"
examples="${API_FUZZ_EXAMPLES:-200}"
workers="${API_FUZZ_WORKERS:-1}"
venv="$root/.venv-api-fuzz"
checks="${API_FUZZ_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,unsupported_method,allow_header_conformance}"

[ -x "$dlad" ] || { echo "error: no dlad binary at $dlad (build one: swift build --product dlad)" >&2; exit 2; }
tools/python-venv.sh "$venv" tools/api-fuzz/requirements.txt
"$venv/bin/openapi-spec-validator" docs/openapi.yaml

work="$(mktemp -d "${TMPDIR:-/tmp}/dlad-api-fuzz.XXXXXX")"
dlad_pid=""
proxy_pid=""
failed_extra=0
finish() {
  if [ -n "$proxy_pid" ]; then kill "$proxy_pid" 2>/dev/null || true; wait "$proxy_pid" 2>/dev/null || true; fi
  if [ -n "$dlad_pid" ]; then kill -KILL "$dlad_pid" 2>/dev/null || true; wait "$dlad_pid" 2>/dev/null || true; fi
}
trap finish EXIT

# The daemon sees only this run's settings: no /etc/dlad/dlad.toml, no DLAD_* from the caller.
: > "$work/dlad.toml"
for variable in $(compgen -e | grep '^DLAD_' || true); do unset "$variable"; done
"$dlad" --config "$work/dlad.toml" --state-dir "$work/state" --socket "$work/dlad.sock" \
  --firmware-models "$root/firmware-models" > "$work/dlad.log" 2>&1 &
dlad_pid=$!

# Ready when GET /v1/health answers 200 on the socket (seeding builds every firmware model first).
ready=""
for _ in $(seq 1 240); do
  kill -0 "$dlad_pid" 2>/dev/null || break
  if "$venv/bin/python" - "$work/dlad.sock" <<'PY' 2>/dev/null; then ready=1; break; fi
import socket, sys
connection = socket.socket(socket.AF_UNIX)
connection.settimeout(2)
connection.connect(sys.argv[1])
connection.sendall(b"GET /v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
sys.exit(0 if connection.recv(64).startswith(b"HTTP/1.1 200") else 1)
PY
  sleep 0.25
done
if [ -z "$ready" ]; then
  echo "error: dlad did not answer on $work/dlad.sock within 60 s; its log:" >&2
  cat "$work/dlad.log" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

"$venv/bin/python" tools/api-fuzz/unix_proxy.py "$work/dlad.sock" "$work/port" 2> "$work/proxy.log" &
proxy_pid=$!
for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.05; done
[ -s "$work/port" ] || { echo "error: the TCP relay did not start" >&2; cat "$work/proxy.log" >&2; exit 1; }
port="$(cat "$work/port")"

seed_option=()
[ -n "${API_FUZZ_SEED:-}" ] && seed_option=(--seed "$API_FUZZ_SEED")
echo "schemathesis $("$venv/bin/schemathesis" --version | awk '{print $NF}') on dlad ($dlad) via 127.0.0.1:$port -> $work/dlad.sock"
started=$SECONDS
set +e
# From the work directory: schemathesis keeps its crash cache (.schemathesis/) in the current one.
(cd "$work" && SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="$root/tools/api-fuzz" \
  "$venv/bin/schemathesis" run "$root/docs/openapi.yaml" --url "http://127.0.0.1:$port" \
  --checks "$checks" --max-examples "$examples" --workers "$workers" "${seed_option[@]}" \
  --generation-database none --request-timeout 30 \
  --report junit --report-junit-path "$work/junit.xml")
schemathesis_status=$?
set -e
echo "schemathesis finished in $((SECONDS - started)) s (exit $schemathesis_status)"

# dlad must have survived every request, and stop cleanly: SIGTERM finishes in-flight work, exits 0.
if ! kill -0 "$dlad_pid" 2>/dev/null; then
  status=0
  wait "$dlad_pid" || status=$?
  echo "FAILED: dlad died during the run (exit status $status); the end of its log:"
  tail -n 30 "$work/dlad.log"
  failed_extra=1
else
  kill -TERM "$dlad_pid"
  status=0
  wait "$dlad_pid" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "FAILED: dlad exited $status after SIGTERM (expected 0); the end of its log:"
    tail -n 30 "$work/dlad.log"
    failed_extra=1
  fi
fi
dlad_pid=""

# Operations with a failure, plus dlad itself; a schemathesis failure outside any operation
# (e.g. it could not load the document) counts as one.
summary="$("$venv/bin/python" - "$work/junit.xml" "$failed_extra" "$schemathesis_status" <<'PY'
import sys
import xml.etree.ElementTree as tree
passed = failed = 0
try:
    cases = tree.parse(sys.argv[1]).getroot().iter("testcase")
except (OSError, tree.ParseError):
    cases = []
for case in cases:
    if case.find("failure") is not None or case.find("error") is not None:
        failed += 1
    elif case.find("skipped") is None:
        passed += 1
extra = int(sys.argv[2])
if int(sys.argv[3]) != 0 and failed == 0:
    failed = 1
print(f"{passed + (1 - extra)} passed, {failed + extra} failed")
PY
)"
if [ "$schemathesis_status" -ne 0 ] || [ "$failed_extra" -ne 0 ]; then
  echo "work directory kept: $work (dlad.log, junit.xml, state/)"
  echo "$summary"
  exit 1
fi
if [ "${API_FUZZ_KEEP:-}" = 1 ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
echo "$summary"
