#!/usr/bin/env bash
# Creates Benchmarks/.venv with the pinned peer runtimes (requirements.txt); see tools/python-venv.sh.
set -euo pipefail
peers_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$peers_dir/../../tools/python-venv.sh" "$(dirname "$peers_dir")/.venv" "$peers_dir/requirements.txt"
