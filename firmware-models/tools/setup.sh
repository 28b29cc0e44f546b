#!/usr/bin/env bash
# Creates firmware-models/.venv with the pinned training packages (requirements.txt); see
# tools/python-venv.sh.
set -euo pipefail
tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$tools_dir/../../tools/python-venv.sh" "$(dirname "$tools_dir")/.venv" "$tools_dir/requirements.txt"
