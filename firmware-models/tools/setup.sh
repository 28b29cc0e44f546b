#!/usr/bin/env bash
# Creates firmware-models/.venv with requirements.txt. Idempotent: when the venv already holds
# exactly requirements.txt (recorded by a stamp), it returns at once without touching pip.
# The venv finds the repository's shared Python packages (tools/, e.g. mnistlib) via a .pth file.
set -euo pipefail

tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
models_dir="$(dirname "$tools_dir")"
venv="$models_dir/.venv"
requirements="$tools_dir/requirements.txt"
stamp="$venv/.requirements-installed"
python="${PYTHON:-python3}"
shared_tools="$(dirname "$models_dir")/tools"

link_tools() {
  site_packages="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  echo "$shared_tools" > "$site_packages/dlad-tools.pth"
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
