#!/bin/sh
# Runs CLI ARGS… and rewrites ArgumentParser's help headings into the GNU style that help2man
# parses: "OVERVIEW: x" → "x", "USAGE: …" → "Usage: …" (the SYNOPSIS), "OPTIONS:" → "Options:".
cli=$1
shift
"$cli" "$@" | sed -e 's/^OVERVIEW: //' -e 's/^USAGE: /Usage: /' -e 's/^OPTIONS:$/Options:/' \
  -e 's/^ARGUMENTS:$/Arguments:/' -e 's/^SUBCOMMANDS:$/Commands:/'
