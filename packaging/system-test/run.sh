#!/bin/bash
# `make system-test`: boots real systemd (PID 1 in a systemd-nspawn container, on a debootstrap'd
# Debian bookworm rootfs), installs dist/dlad_<version>_<arch>.deb and runs checks.sh there as an
# operator would. Prints each check's PASS/FAIL line and "N passed, N failed"; exits non-zero on
# any failure, on a missing results file, or after SYSTEM_TEST_TIMEOUT seconds (default 600).
#
# Usage: packaging/system-test/run.sh [DEB]   (default: the newest dist/dlad_*_<arch>.deb)
set -euo pipefail
cd "$(dirname "$0")/../.."
here=packaging/system-test
arch=$(dpkg --print-architecture)
timeout=${SYSTEM_TEST_TIMEOUT:-600}
start=$(date +%s)

deb=${1:-$(ls -t dist/dlad_*_"$arch".deb 2>/dev/null | head -n 1)}
[ -f "$deb" ] || { echo "error: no .deb to test (run make deb)" >&2; exit 1; }
version=$(dpkg-deb -f "$deb" Version)

tarball=$("$here/rootfs.sh")
work=$(mktemp -d "${TMPDIR:-/var/tmp}/dlad-system-test.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
mkdir "$work/root" "$work/share"

# The upgrade check installs the same build, repackaged as a newer version, over the one under test.
upgrade_version="$version+systemtest1"
dpkg-deb -R "$deb" "$work/upgrade"
sed -i "s/^Version: .*/Version: $upgrade_version/" "$work/upgrade/DEBIAN/control"
dpkg-deb -Zgzip -z1 -b "$work/upgrade" "$work/share/dlad_${upgrade_version}_$arch.deb" >/dev/null
rm -rf "$work/upgrade"
cp "$deb" "$work/share/"
basename "$deb" >"$work/share/deb"
echo "dlad_${upgrade_version}_$arch.deb" >"$work/share/upgrade-deb"
cp "$here/checks.sh" "$work/share/"

zstd -q -dc "$tarball" | tar -C "$work/root" --numeric-owner -xf -
echo "booting bookworm with systemd in a container to test $(basename "$deb") (timeout ${timeout}s)"
boot_start=$(date +%s)
status=0
timeout --kill-after=20 "$timeout" systemd-nspawn -q -D "$work/root" --boot --register=no --keep-unit \
  --console=pipe --volatile=overlay --private-network --bind="$work/share:/share" \
  --bind-ro="$PWD/$here/t.service:/etc/systemd/system/t.service" \
  -- systemd.wants=t.service >"$work/nspawn.log" 2>&1 || status=$?
end=$(date +%s)

results=$work/share/results.txt
mkdir -p .cache/system-test
rm -f .cache/system-test/last-*
# Kept for reading after a run: the results, the container's journal and nspawn's output.
for file in results.txt journal.txt; do
  [ -f "$work/share/$file" ] && cp "$work/share/$file" ".cache/system-test/last-$file"
done
cp "$work/nspawn.log" .cache/system-test/last-nspawn.log

if [ ! -s "$results" ]; then
  echo "error: no results (systemd-nspawn exit $status); see .cache/system-test/last-nspawn.log" >&2
  tail -n 20 "$work/nspawn.log" >&2
  exit 1
fi
cat "$results"
passed=$(grep -c '^PASS ' "$results" || true)
failed=$(grep -c '^FAIL ' "$results" || true)
if ! grep -qx DONE "$results"; then
  echo "error: the checks did not finish (systemd-nspawn exit $status; timeout ${timeout}s)" >&2
  failed=$((failed + 1))
fi
echo "container ran $((end - boot_start)) s; whole test $((end - start)) s; results, journal and nspawn's output in .cache/system-test/last-*"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
