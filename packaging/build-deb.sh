#!/bin/sh
# `make deb`: builds dist/dlad_<version>_<arch>.deb. Swift is not a Debian package, so the release
# build (standard library linked statically) happens here with the toolchain on PATH, and
# packaging/debian/rules, run by dpkg-buildpackage in a staging copy, only installs what it built.
#
# Environment: SWIFT (the swift driver), DLAD_VERSION (package version; defaults to the top of
# packaging/debian/changelog, a different one gets its own changelog entry in the staging copy),
# DEB_SCRATCH (SwiftPM scratch path, .build-release), DEB_OUT (output folder, dist), LINTIAN=0 to
# skip lintian.
set -eu
cd "$(dirname "$0")/.."

swift=${SWIFT:-swift}
scratch=${DEB_SCRATCH:-.build-release}
out=${DEB_OUT:-dist}
arch=$(dpkg --print-architecture)
changelog_version=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
version=${DLAD_VERSION:-$changelog_version}

# The package's version is the daemon's (DaemonVersion.current, which /v1/health reports).
daemon_version=$(sed -n 's/^ *public static let current = "\(.*\)"$/\1/p' $(grep -rl 'enum DaemonVersion' Sources))
case $changelog_version in
  "$daemon_version"|"$daemon_version"[-+~]*) ;;
  *) echo "error: packaging/debian/changelog is at $changelog_version but dlad is $daemon_version: add a changelog entry" >&2; exit 1 ;;
esac

# Full RELRO (-z relro -z now; Swift links PIE already), as Debian's hardening flags ask, and no
# dynamic symbol table beyond what libc needs: Swift exports every symbol of an executable by
# default (20,000 in dlad, 1.8 MB), which only a dynamic loader of plug-ins would use.
flags="-c release --static-swift-stdlib --scratch-path $scratch"
$swift build $flags -Xlinker -z -Xlinker relro -Xlinker -z -Xlinker now -Xlinker --no-export-dynamic
bin=$($swift build $flags --show-bin-path)

staging=.build-deb
stage=$staging/dlad-$version
rm -rf "$staging"
mkdir -p "$stage/bin" "$stage/firmware-models"
cp -R packaging/debian "$stage/debian"
for unit in service socket sysusers tmpfiles; do
  cp "systemd/dlad.$unit" "$stage/debian/dlad.$unit"
done
cp "$bin/dlad" "$bin/dlactl" "$stage/bin/"
cp packaging/dlad.toml "$stage/"

# The firmware models: the manifest, its .dla files and the sample files it references.
python3 - firmware-models "$stage/firmware-models" <<'PY'
import json, os, shutil, sys
source, target = sys.argv[1], sys.argv[2]
manifest = json.load(open(os.path.join(source, "manifest.json")))
files = {"manifest.json"}
for model in manifest["models"]:
    files.add(model["file"])
    for key in ("samples", "expectedOutputs"):
        if model.get(key):
            files.add(model[key])
for name in sorted(files):
    os.makedirs(os.path.dirname(os.path.join(target, name)), exist_ok=True)
    shutil.copyfile(os.path.join(source, name), os.path.join(target, name))
PY

if [ "$version" != "$changelog_version" ]; then
  {
    printf 'dlad (%s) bookworm; urgency=medium\n\n  * Rebuild as %s.\n\n' "$version" "$version"
    printf ' -- %s  %s\n\n' "$(dpkg-parsechangelog -l packaging/debian/changelog -S Maintainer)" "$(date -R)"
    cat packaging/debian/changelog
  } > "$stage/debian/changelog"
fi

(cd "$stage" && dpkg-buildpackage -b -us -uc --no-sign >../build.log 2>&1) || {
  tail -n 40 "$staging/build.log" >&2
  echo "error: dpkg-buildpackage failed; full log in $staging/build.log" >&2
  exit 1
}
deb=dlad_${version}_$arch.deb
mkdir -p "$out"
cp "$staging/$deb" "$out/$deb"

if [ "${LINTIAN:-1}" != 0 ]; then
  # Errors fail the build; warnings are fixed or overridden in debian/dlad.lintian-overrides.
  lintian --fail-on error,warning --display-info "$out/$deb"
fi
echo "$out/$deb: $(stat -c %s "$out/$deb") bytes; dlad $(stat -c %s "$stage/debian/dlad/usr/bin/dlad") bytes, dlactl $(stat -c %s "$stage/debian/dlad/usr/bin/dlactl") bytes (stripped)"
