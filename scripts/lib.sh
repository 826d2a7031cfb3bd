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
# contents_store_path DIR STORE_DIR: the store path a --contents directory
# is, or leads to through symlinks (./result), as nixpkgs would be given
# it: the first path inside the store on the way, kept as it is there (a
# store path that is a symlink stays itself; a directory inside a store
# path is allowed). Prints nothing for a directory outside the store.
contents_store_path() {
	local p=$1 store=$2 up base target i
	for ((i = 0; i < 40; i++)); do
		case $p in /*) ;; *) p=$PWD/$p ;; esac
		while [[ $p == *//* ]]; do p=${p//\/\//\/}; done
		while [[ $p == */./* ]]; do p=${p//\/.\//\/}; done
		p=${p%/.}
		[ "$p" = / ] || p=${p%/}
		if [[ $p == */.. || $p == */../* ]]; then p=$(cd -P -- "$p" && pwd); fi
		case $p in "$store"/?*)
			printf '%s\n' "$p"
			return
			;;
		esac
		[ "$p" != / ] || return 0
		base=${p##*/} up=${p%/*}
		# The directory above may lead into the store itself (./result/share).
		up=$(contents_store_path "${up:-/}" "$store")
		if [ -n "$up" ]; then
			printf '%s/%s\n' "$up" "$base"
			return
		fi
		up=${p%/*}
		up=$(cd -P -- "${up:-/}" && pwd)
		p=${up%/}/$base
		[ -L "$p" ] || return 0
		target=$(readlink -- "$p")
		case $target in /*) p=$target ;; *) p=${up%/}/$target ;; esac
	done
	die "$1: too many levels of symbolic links"
}

# link_tree FROM TO: what nixpkgs' symlinkJoin does with one of its paths
# (lndir -silent FROM TO): under TO, a directory (mode 0755) for each
# directory under FROM, a symlink to FROM/PATH for each file, and a symlink
# with the same target for each symlink (a symlinked directory stays a
# symlink). What TO holds already is kept: the first of the contents wins.
# Like lndir (as nixpkgs and Debian ship it) it leaves out names ending in
# "~" and directories named .git, .hg, BitKeeper, RCS, SCCS, CVS, CVS.adm or
# .svn.
# Nothing is written through a symlink. A few processes per directory, none
# per file.
link_tree() {
	local nullglob
	nullglob=$(shopt -p nullglob || true)
	shopt -s nullglob
	link_dir "$1" "$2" ''
	eval "$nullglob"
}

# link_dir FROM TO REL: link_tree for the directory FROM/REL.
link_dir() {
	local from=$1 to=$2 rel=$3 src dst name
	local -a files=() links=() dirs=() new=()
	for src in "$from$rel"/* "$from$rel"/.*; do
		name=${src##*/}
		case $name in . | .. | *~) continue ;; esac
		dst=$to$rel/$name
		if [ ! -L "$src" ] && [ -d "$src" ]; then
			case $name in .git | .hg | BitKeeper | RCS | SCCS | CVS | CVS.adm | .svn) continue ;; esac
			if [ -L "$dst" ] || { [ -e "$dst" ] && [ ! -d "$dst" ]; }; then
				log "--contents $from: .$rel/$name is already in the image root and not a directory: kept"
				continue
			fi
			[ -d "$dst" ] || new+=("$dst")
			dirs+=("$name")
		elif [ -L "$dst" ] || [ -e "$dst" ]; then
			# Quiet when it is the same file (the same path given twice).
			[ "$dst" -ef "$src" ] || log "--contents $from: .$rel/$name is already in the image root: kept"
		elif [ -L "$src" ]; then
			links+=("$src")
		else
			files+=("$src")
		fi
	done
	[ ${#new[@]} -eq 0 ] || mkdir -m 0755 -- "${new[@]}"
	[ ${#files[@]} -eq 0 ] || printf '%s\0' "${files[@]}" | xargs -0 ln -s -t "$to$rel" --
	# cp -P copies a symlink as a symlink with the same target.
	[ ${#links[@]} -eq 0 ] || printf '%s\0' "${links[@]}" | xargs -0 cp -P -t "$to$rel" --
	for name in "${dirs[@]}"; do
		link_dir "$from" "$to" "$rel/$name"
	done
}

# need_gnu_tar: custom_layer needs GNU tar (--sort=name: 1.28 or later).
need_gnu_tar() {
	local version
	version=$(tar --version 2>/dev/null) || true
	case $version in "tar (GNU tar)"*) ;; *) die "tar is not GNU tar: the customisation layer is packed with GNU tar, as nixpkgs packs it" ;; esac
}

# custom_layer ROOT INDEX OUT DESCRIPTOR: the customisation layer of the
# image root ROOT, packed as nixpkgs packs it (fakeroot tar --sort name
# --numeric-owner --mtime "@$SOURCE_DATE_EPOCH" --hard-dereference -cf
# layer.tar .), hence with nixpkgs' bytes for the same root: GNU tar
# format, a "./" entry for the root itself, owner 0:0 without names, every
# time $SOURCE_DATE_EPOCH (a Nix build's 315532800, 1980-01-01, when
# unset). Then its descriptor, as path-to-layer writes one (no "index" when
# INDEX is "").
custom_layer() {
	local root=$1 index=$2 out=$3 desc=$4 epoch=${SOURCE_DATE_EPOCH:-315532800} sum size file
	case $epoch in '' | *[!0-9]*) die "SOURCE_DATE_EPOCH=$epoch is not a number of seconds" ;; esac
	need_gnu_tar
	LC_ALL=C tar --format=gnu --blocking-factor=20 --sort=name --numeric-owner --owner=0 --group=0 \
		--mtime="@$epoch" --hard-dereference -C "$root" -cf "$out" . >&2 ||
		die "packing the customisation layer failed"
	sum=$(sha256sum <"$out")
	size=$(wc -c <"$out")
	file=${out//\\/\\\\}
	file=${file//\"/\\\"}
	printf '{%s"file":"%s","diffID":"sha256:%s","size":%d}\n' "${index:+\"index\":$index,}" "$file" "${sum%% *}" "$size" >"$desc"
}
