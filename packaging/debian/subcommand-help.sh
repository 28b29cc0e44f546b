#!/bin/sh
# Prints a help2man include file with a COMMANDS section: the --help text of each subcommand
# that `CLI --help` lists, so that the man page documents them all.
set -eu
cli=$1
name=$(basename "$cli")
# Subcommands are listed under "SUBCOMMANDS:" or, in groups, under "<GROUP> SUBCOMMANDS:".
subcommands=$("$cli" --help | awk '/^[A-Z].*SUBCOMMANDS:$/ { on = 1; next } /^[A-Z]/ { on = 0 } on && /^  [a-z]/ { print $1 }')
[ -n "$subcommands" ] || { echo "error: no subcommands found in '$cli --help'" >&2; exit 1; }
echo "[COMMANDS]"
for sub in $subcommands; do
  printf '.SS "%s %s"\n.nf\n' "$name" "$sub"
  "$cli" "$sub" --help | sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
  printf '.fi\n'
done
