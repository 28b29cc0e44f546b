#!/usr/bin/env bash
# Usage: tools/python-venv.sh VENV REQUIREMENTS
# Creates VENV with exactly REQUIREMENTS (pinned). Idempotent: when the venv already holds exactly
# REQUIREMENTS (recorded by a stamp), it returns at once without touching pip. The venv also finds
# the repository's shared Python packages (tools/, e.g. mnistlib) via a .pth file.
set -euo pipefail

venv="$1"
requirements="$2"
stamp="$venv/.requirements-installed"
python="${PYTHON:-python3}"
tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

link_tools() {
  site_packages="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  echo "$tools_dir" > "$site_packages/dlad-tools.pth"
}

if [ -f "$stamp" ] && cmp -s "$requirements" "$stamp" && [ -x "$venv/bin/python" ]; then
  link_tools
  exit 0
fi

command -v "$python" >/dev/null || { echo "error: $python not found (Python 3.11 or later is required)" >&2; exit 1; }
echo "setting up $venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$requirements"
cp "$requirements" "$stamp"
link_tools
