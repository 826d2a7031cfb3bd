# shellcheck shell=bash
# Shared by the scripts: messages, finding the toolkit's binaries, a work
# directory removed on exit. Sourced, not run.
#
# Every step that fails must stop the script with its message and leave no
# output: the scripts run under set -euo pipefail, command substitutions
# inherit errexit (bash's default does not), and a command's output that a
# later step reads goes through a file or a variable assigned on its own
# line (never "< <(...)" or "local x=$(...)", whose failures set -e cannot
# see).
shopt -s inherit_errexit

prog=${0##*/}
quiet=''
die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }
usage_error() { printf '%s: %s (try --help)\n' "$prog" "$*" >&2; exit 2; }
log() { [ -n "$quiet" ] || printf '%s: %s\n' "$prog" "$*" >&2; }

# tool NAME: the path of a toolkit binary: $DOCKERTOOLS_BIN, then the
# repository's bin/ beside this script, then $PATH. Call it in an
# assignment of its own (x=$(tool NAME)), so that a missing tool stops the
# script.
scripts_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tool() {
	local t
	for t in ${DOCKERTOOLS_BIN:+"$DOCKERTOOLS_BIN/$1"} "$scripts_dir/../bin/$1"; do
		if [ -x "$t" ]; then printf '%s\n' "$t"; return; fi
	done
	command -v "$1" || die "$1 not found: run 'make build' or put the toolkit's binaries on PATH"
}

# need_value OPTION ARGC: an option's value must follow it.
need_value() { [ "$2" -ge 2 ] || usage_error "$1 needs a value"; }

# make_workdir: $work, removed when the script ends, however it ends.
make_workdir() {
	work=$(mktemp -d "${TMPDIR:-/tmp}/$prog.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# closure_graph OUT ROOT...: the closure graph of the roots, from Nix.
closure_graph() {
	local out=$1
	shift
	command -v nix >/dev/null || die "nix is not installed: give the closure graph with --graph FILE"
	nix --extra-experimental-features nix-command path-info --json --recursive "$@" >"$out" ||
		die "nix path-info failed for: $*"
}

# config_store_paths CONFIG STORE_DIR: store paths a config names (say
# in Cmd), one per line; they belong to the image's closure.
config_store_paths() {
	local found
	# grep exits 1 when nothing matches: no store paths, not a failure.
	found=$(grep -oE "$2/[0-9a-z]{32}-[^\"'/ ]+" "$1") || [ $? -eq 1 ] || die "cannot read the config $1"
	[ -z "$found" ] || printf '%s\n' "$found" | LC_ALL=C sort -u
}

# base_layer_count ARCHIVE [TAG]: how many layers the base image has.
base_layer_count() {
	local merge_images list n
	merge_images=$(tool merge-images)
	list=$("$merge_images" --list ${2:+--tag "$2"} "$1") || die "cannot read the base image $1"
	n=$(printf '%s\n' "$list" | sed -n 's/.*"layers":\([0-9][0-9]*\).*/\1/p;T;q')
	[ -n "$n" ] || die "cannot count the layers of the base image $1"
	printf '%s\n' "$n"
}
