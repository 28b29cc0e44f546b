#!/bin/sh
# Prints a help2man include file with a COMMANDS section: the --help text of each subcommand
# that `CLI --help` lists, so that the man page documents them all.
set -eu
cli=$1
name=$(basename "$cli")
echo "[COMMANDS]"
"$cli" --help | awk '/^SUBCOMMANDS:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^[A-Z]/ { on = 0 }' |
while read -r sub; do
  printf '.SS "%s %s"\n.nf\n' "$name" "$sub"
  "$cli" "$sub" --help | sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
  printf '.fi\n'
done
