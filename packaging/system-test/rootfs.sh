#!/bin/sh
# Prints the path of a cached Debian bookworm rootfs tarball for the system test, building it
# with debootstrap (minbase plus systemd, dbus, curl and the .deb's run-time libraries) the first
# time. The tarball, not a directory, is cached: a directory under .cache would be walked by every
# tool that scans the tree, and a tarball unpacks in a couple of seconds.
set -eu

cache_dir=${SYSTEM_TEST_CACHE:-.cache/system-test}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
arch=$(dpkg --print-architecture)
# Bump when the package list changes so that an old cache is not reused.
revision=2
tarball=$cache_dir/bookworm-minbase-$arch-r$revision.tar.zst
# systemd as PID 1, its bus, curl to talk to the socket as an operator would, and the .deb's
# Depends that minbase lacks (which apt would download on a real machine), so that
# `apt-get install ./dlad_*.deb` needs no network inside the container.
include=systemd,systemd-sysv,dbus,curl,libsqlite3-0,libsystemd0,procps

if [ -s "$tarball" ]; then
  echo "$tarball"
  exit 0
fi

mkdir -p "$cache_dir"
work=$(mktemp -d "$cache_dir/rootfs.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "debootstrap bookworm ($arch, minbase + $include) from $mirror" >&2
debootstrap --variant=minbase --arch="$arch" --include="$include" bookworm "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  exit 1
}
# A clean apt state and no cached .debs: smaller tarball, and nothing inside tries the network.
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*_Packages
tar -C "$work/root" --numeric-owner --xattrs --acls -cf - . | zstd -q -T0 -10 -o "$work/rootfs.tar.zst"
rm -f "$cache_dir"/bookworm-minbase-"$arch"-r*.tar.zst
mv "$work/rootfs.tar.zst" "$tarball"
echo "$tarball"
