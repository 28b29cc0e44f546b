#!/bin/sh
# Checks the shipped conffile against the daemon that ships with it: it parses as is, it names
# every setting `dlad --print-config` knows, and its commented-out values, once uncommented, are
# exactly the built-in defaults.
set -eu
dlad=$1
conffile=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$dlad" --config "$conffile" --print-config >"$work/as-shipped"
: >"$work/empty.toml"
"$dlad" --config "$work/empty.toml" --print-config >"$work/defaults"
cmp -s "$work/as-shipped" "$work/defaults" || { echo "error: $conffile changes a default:" >&2; diff "$work/defaults" "$work/as-shipped" >&2; exit 1; }

sed 's/^#\([a-z_]* = \)/\1/' "$conffile" >"$work/uncommented.toml"
"$dlad" --config "$work/uncommented.toml" --print-config >"$work/uncommented"
cmp -s "$work/uncommented" "$work/defaults" || { echo "error: a value in $conffile is not the default:" >&2; diff "$work/defaults" "$work/uncommented" >&2; exit 1; }

# Keys as print-config names them (retention.max_rows) against the file's ([retention] max_rows).
awk '/^\[/ { table = substr($0, 2, length($0) - 2) "."; next } /^[a-z_]+ = / { print table $1 }' "$work/uncommented.toml" | sort >"$work/file-keys"
cut -d' ' -f1 "$work/defaults" | sort >"$work/known-keys"
cmp -s "$work/file-keys" "$work/known-keys" || { echo "error: settings missing from (<) or unknown to (>) dlad in $conffile:" >&2; diff "$work/known-keys" "$work/file-keys" >&2; exit 1; }
echo "$conffile: $(wc -l <"$work/known-keys") settings, all at their defaults"
