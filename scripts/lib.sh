# Shared by the scripts: messages, finding the toolkit's binaries, a work
# directory removed on exit. Sourced, not run.

prog=${0##*/}
quiet=
die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }
usage_error() { printf '%s: %s (try --help)\n' "$prog" "$*" >&2; exit 2; }
log() { [ -n "$quiet" ] || printf '%s: %s\n' "$prog" "$*" >&2; }

# tool NAME: the path of a toolkit binary: $DOCKERTOOLS_BIN, then the
# repository's bin/ beside this script, then $PATH.
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
	local out=$1; shift
	command -v nix >/dev/null || die "nix is not installed: give the closure graph with --graph FILE"
	nix --extra-experimental-features nix-command path-info --json --recursive "$@" >"$out" ||
		die "nix path-info failed for: $*"
}

# config_store_paths CONFIG STORE_DIR: store paths a config names (say
# in Cmd), one per line; they belong to the image's closure.
config_store_paths() {
	grep -oE "$2/[0-9a-z]{32}-[^\"'/ ]+" "$1" | sort -u || true
}

# base_layer_count ARCHIVE [TAG]: how many layers the base image has.
base_layer_count() {
	local list
	list=$("$(tool merge-images)" --list ${2:+--tag "$2"} "$1") || die "cannot read the base image $1"
	printf '%s\n' "$list" | sed -n 's/.*"layers":\([0-9][0-9]*\).*/\1/p' | head -n1
}
