# shellcheck shell=bash
# What the builders of nix/ share. Sourced (as $common) by a builder that
# runs under errexit, nounset and pipefail, with the toolkit on PATH.

# fail MESSAGE: one line naming what failed, then the build stops.
fail() {
	printf 'dockertools: %s\n' "$*" >&2
	exit 1
}

# die MESSAGE: fail, for scripts/lib.sh's functions (when a builder sources
# it before this file), their messages in the Nix functions' terms: the
# scripts' options become the arguments they stand for.
# shellcheck disable=SC2034 # lib.sh's log names the program by it
prog=dockertools
die() {
	local m=$*
	m=${m//--fake-root-commands/fakeRootCommands}
	m=${m//--enable-fakechroot/enableFakechroot}
	m=${m//--include-nix-db/includeNixDB}
	fail "$m"
}

# seconds TIME: a layer's mtime as path-to-layer takes it; "now" is the
# time of this build (recorded in the descriptor, so the layer is written
# again with the same times).
seconds() {
	if [ "$1" = now ]; then date +%s; else printf '%s\n' "$1"; fi
}

# image_file IMAGE IS_STREAM DIR: a file holding IMAGE: the image itself,
# or, for a stream (streamLayeredImage's script), its output written into
# DIR.
image_file() {
	if [ -n "$2" ]; then
		"$1" >"$3/base-image.tar" 2>"$3/base-image.log" ||
			fail "fromImage: the stream $1 failed: $(tail -n 1 "$3/base-image.log")"
		printf '%s\n' "$3/base-image.tar"
	else
		printf '%s\n' "$1"
	fi
}

# base_layers IMAGE [NAME:TAG]: how many layers the base image has.
base_layers() {
	local list n
	list=$(merge-images --list ${2:+--tag "$2"} "$1" 2>"$TMPDIR/list.err") ||
		fail "fromImage $1 is not an image: $(head -n 1 "$TMPDIR/list.err")"
	n=$(printf '%s\n' "$list" | sed -n 's/.*"layers":\([0-9][0-9]*\).*/\1/p' | head -n 1)
	[ -n "$n" ] || fail "fromImage $1: cannot count its layers"
	printf '%s\n' "$n"
}

# base_store_paths IMAGE [NAME:TAG]: the store paths the base image's
# layers hold, one a line.
base_store_paths() {
	merge-images --list --store-paths ${2:+--tag "$2"} "$1" >"$TMPDIR/base.json" 2>"$TMPDIR/list.err" ||
		fail "fromImage $1 is not an image: $(head -n 1 "$TMPDIR/list.err")"
	sed -n 's/.*"storePaths":\[\([^]]*\)\].*/\1/p' "$TMPDIR/base.json" | tr ',' '\n' | tr -d '"' | sed '/^$/d'
}

# held_paths DESCRIPTOR...: the store paths the layers of these
# descriptors hold, one a line (store paths hold no quote or comma).
held_paths() {
	local d
	for d in "$@"; do
		sed -n 's/.*"paths":\[\([^]]*\)\].*/\1/p' "$d" | tr ',' '\n' | tr -d '"' | sed '/^$/d'
	done
}

# measure_layer OUT NAME PATH...: the descriptor of the layer of the store
# PATHs (path-to-layer --digest-only, with the options in $mtime $uid $gid
# $uname $gname, and the rules' file $perms if not empty), written to OUT;
# a failure names the layer and its paths.
measure_layer() {
	local out=$1 name=$2 err
	shift 2
	err=$(mktemp)
	if ! path-to-layer --quiet --digest-only --mtime "$(seconds "$mtime")" --uid "$uid" --gid "$gid" \
		--uname "$uname" --gname "$gname" ${perms:+--perms "$perms"} -- "$@" >"$out" 2>"$err"; then
		fail "layer $name (store paths: $*) failed: $(tail -n 1 "$err")"
	fi
	rm -f "$err"
}
