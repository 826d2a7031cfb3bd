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

# custom_layer ROOT INDEX OUT DESCRIPTOR [MODE STORE_DIR SCRIPT]: the
# customisation layer of the image root ROOT, packed as nixpkgs packs it
# (fakeroot tar --sort name --numeric-owner --mtime "@$SOURCE_DATE_EPOCH"
# --hard-dereference -cf layer.tar .), hence with nixpkgs' bytes for the
# same root: GNU tar format, a "./" entry for the root itself, owner 0:0
# without names, every time $SOURCE_DATE_EPOCH (a Nix build's 315532800,
# 1980-01-01, when unset). With MODE "fakeroot" or "fakechroot", SCRIPT
# runs first in the same fakeroot session (fake_root), whose owners and
# modes tar records. Then its descriptor, as path-to-layer writes one (no
# "index" when INDEX is "").
custom_layer() {
	local root=$1 index=$2 out=$3 desc=$4 mode=${5:-} epoch=${SOURCE_DATE_EPOCH:-315532800} sum size file
	local -a tar=(env LC_ALL=C tar --format=gnu --blocking-factor=20 --sort=name)
	case $epoch in '' | *[!0-9]*) die "SOURCE_DATE_EPOCH=$epoch is not a number of seconds" ;; esac
	need_gnu_tar
	case $mode in
	'')
		"${tar[@]}" --numeric-owner --owner=0 --group=0 --mtime="@$epoch" --hard-dereference \
			-C "$root" -cf "$out" . >&2 || die "packing the customisation layer failed"
		;;
	*)
		# fakeroot tells tar the owners: files it knows nothing of are
		# 0:0, as --owner=0 --group=0 makes them. Under proot nixpkgs
		# leaves out /dev, /proc, /sys and the store directory.
		[ "$mode" != fakechroot ] || tar+=(--exclude=./dev --exclude=./proc --exclude=./sys "--exclude=.$6")
		fake_root "$root" "$mode" "$6" "$7" "${tar[@]}" --numeric-owner --mtime="@$epoch" --hard-dereference \
			-C "$root" -cf "$out" . >&2
		;;
	esac
	sum=$(sha256sum <"$out")
	size=$(wc -c <"$out")
	file=${out//\\/\\\\}
	file=${file//\"/\\\"}
	printf '{%s"file":"%s","diffID":"sha256:%s","size":%d}\n' "${index:+\"index\":$index,}" "$file" "${sum%% *}" "$size" >"$desc"
}

# fake_root ROOT MODE STORE_DIR SCRIPT PACK...: nixpkgs' fakeRootCommands:
# in one fakeroot session, the shell SCRIPT run in ROOT (umask 022,
# bash -e), then the command PACK, which sees the owners and modes SCRIPT
# set. With MODE "fakechroot" (enableFakechroot) SCRIPT runs under proot
# with ROOT as "/", as nixpkgs runs it, so that useradd and the like write
# the image's /etc: the store directory, /dev, /proc, /sys and the build
# directory ($work) are bound in at their paths, as nixpkgs binds them;
# the host's programs, which nixpkgs finds in the store, are under
# /.dockertools-host (PATH points there), with the dynamic loader and the
# C library's directory at their own paths; and before PACK the store
# directory's parents are made in ROOT (mode 0755, 0:0), as proot shows
# them to nixpkgs' tar. SCRIPT's stdout goes to stderr; a SCRIPT that
# fails stops the build with its exit status and the end of its stderr on
# one line.
fake_root() {
	local root=$1 mode=$2 store=$3 script=$4 log=$work/fake-root.log failed=$work/fake-root.status tail status
	local -a parents=() run=(bash -e -c "$script")
	shift 4
	command -v fakeroot >/dev/null ||
		die "fakeroot is not installed: --fake-root-commands run under it, as in nixpkgs (Debian package fakeroot)"
	if [ "$mode" = fakechroot ]; then
		command -v proot >/dev/null ||
			die "proot is not installed: --enable-fakechroot runs the commands under it, as in nixpkgs (Debian package proot)"
		local hp=/.dockertools-host bash env lib ldd_out d p dirs path
		local -a binds=() libdirs=() guest_path=()
		bash=$(command -v bash) env=$(command -v env)
		ldd_out=$(ldd "$bash" 2>/dev/null) || die "--enable-fakechroot: ldd $bash failed: cannot find the host's C library to bind in"
		for d in /dev /proc /sys "$store" "$work"; do
			[ ! -e "$d" ] || binds+=("--bind=$d:$d!")
		done
		binds+=("--bind=/:$hp")
		# The loader and the libraries' directories, at their paths: the
		# host's programs (bash, fakeroot's library, useradd) need them.
		while read -r lib; do
			case $lib in
			*" => /"*) lib=${lib#* => } lib=${lib%% (*} libdirs+=("${lib%/*}") ;;
			/*) lib=${lib%% (*} binds+=("--bind=$lib:$lib!") ;;
			esac
		done <<<"$ldd_out"
		dirs=$(printf '%s\n' "${libdirs[@]}" | LC_ALL=C sort -u)
		while read -r d; do
			[ -z "$d" ] || binds+=("--bind=$d:$d!")
		done <<<"$dirs"
		IFS=: read -r -a guest_path <<<"$PATH"
		for p in "${!guest_path[@]}"; do
			case ${guest_path[p]} in /*) guest_path[p]=$hp${guest_path[p]} ;; *) unset 'guest_path[p]' ;; esac
		done
		path=$(IFS=:; printf '%s' "${guest_path[*]}")
		mkdir -p "$work/tmp"
		# proot runs inside the fakeroot session; in the guest, fakeroot's
		# library is found under $hp.
		# shellcheck disable=SC2016 # expanded by the inner bash
		run=(bash -c '
			hp=$1; shift
			ld=
			IFS=: read -r -a dirs <<<"${LD_LIBRARY_PATH:-}"
			for d in "${dirs[@]}"; do case $d in /*) ld=$ld:$hp$d ;; esac; done
			LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}$ld exec proot "$@"
			' fake-root "$hp" -r "$root" "${binds[@]}" -w / "$hp$env" PATH="$path" TMPDIR="$work/tmp" "$hp$bash" -e -c "$script")
		d=${store%/*}
		while [ -n "$d" ]; do parents=("$root$d" "${parents[@]}") d=${d%/*}; done
	fi
	# One session, as nixpkgs runs the commands and tar: a session saved
	# (fakeroot -s) and loaded again costs faked's second or so to exit.
	# shellcheck disable=SC2016 # expanded by the inner bash
	fakeroot -- bash -c '
		root=$1 log=$2 failed=$3 n=$4
		shift 4
		run=("${@:1:n}")
		shift "$n"
		n=$1
		shift
		parents=("${@:1:n}")
		shift "$n"
		(cd "$root" && umask 022 && exec "${run[@]}") >&2 2>"$log" || { echo "$?" >"$failed"; exit 1; }
		for d in "${parents[@]}"; do
			[ -e "$d" ] || [ -L "$d" ] || mkdir -m 0755 "$d" || exit
		done
		exec "$@"
		' fake-root "$root" "$log" "$failed" "${#run[@]}" "${run[@]}" "${#parents[@]}" "${parents[@]}" "$@" && status=0 || status=$?
	if [ -e "$failed" ]; then
		status=$(cat "$failed")
		# The last lines of its stderr, on the one line of the message.
		tail=$(tail -n 3 "$log" | sed 's/[[:space:]]*$//; /^$/d' | paste -sd '|' | sed 's/|/ | /g')
		[ ${#tail} -le 400 ] || tail=...${tail: -400}
		die "--fake-root-commands failed with exit status $status${tail:+: $tail}"
	fi
	cat "$log" >&2
	[ "$status" -eq 0 ] || die "packing the customisation layer failed"
}

# nix_db ROOT PATHS_FILE GCROOT...: nixpkgs' includeNixDB
# (mkDbExtraCommand): under ROOT, a Nix database registering each store
# path of PATHS_FILE (one per line) with its references, NAR hash and size
# as this machine's Nix store has them (nix-store --dump-db, derivers left
# out as closureInfo leaves them out), loaded by nix-store --load-db as
# nixpkgs loads it, every registrationTime set to $SOURCE_DATE_EPOCH
# (default 315532800, as in a Nix build) with sqlite3 as nixpkgs sets it,
# and nix/var/nix/gcroots/docker/NAME linking to each GCROOT. Only
# db/db.sqlite and db/schema are kept of what nix-store makes around the
# database (its lock, an 8 MiB reserve file and per-user directories,
# which Nix makes again when it needs them, and which name the user
# running the build).
nix_db() {
	local root=$1 list=$2 epoch=${SOURCE_DATE_EPOCH:-315532800} db=$work/nix-db msg g
	local -a paths=()
	shift 2
	case $epoch in '' | *[!0-9]*) die "SOURCE_DATE_EPOCH=$epoch is not a number of seconds" ;; esac
	command -v nix-store >/dev/null ||
		die "--include-nix-db: nix-store is not installed: the database is made by nix-store --load-db, as nixpkgs makes it"
	command -v sqlite3 >/dev/null ||
		die "--include-nix-db: sqlite3 is not installed: it sets the registration times, as in nixpkgs (Debian package sqlite3)"
	mapfile -t paths <"$list"
	if [ ${#paths[@]} -gt 0 ]; then
		msg=$(nix-store --dump-db "${paths[@]}" 2>&1 >"$work/registration") ||
			die "--include-nix-db: nix-store --dump-db: $(printf '%s\n' "$msg" | sed -n 's/^error: //p' | tail -n 1) (the database registers the image's store paths as this machine's Nix store has them)"
	else
		: >"$work/registration"
	fi
	# Records of path, hash, size, deriver, count and the references:
	# the deriver emptied, as closureInfo writes it.
	awk 'BEGIN { field = 0 }
		{ field++ }
		field == 4 { print ""; next }
		field == 5 { left = $0; print; if (left == 0) field = 0; next }
		field > 5 { print; if (--left == 0) field = 0; next }
		{ print }' "$work/registration" >"$work/registration.nixpkgs"
	mkdir "$db"
	msg=$(cd "$db" && umask 022 && USER=nobody NIX_REMOTE="local?root=$db" \
		nix-store --option build-users-group '' --load-db <"$work/registration.nixpkgs" 2>&1) ||
		die "--include-nix-db: nix-store --load-db failed: $(printf '%s\n' "$msg" | tail -n 1)"
	msg=$(sqlite3 "$db/nix/var/nix/db/db.sqlite" "UPDATE ValidPaths SET registrationTime = $epoch" 2>&1) ||
		die "--include-nix-db: sqlite3 failed: $msg"
	for g in nix nix/var nix/var/nix nix/var/nix/db nix/var/nix/gcroots nix/var/nix/gcroots/docker; do
		[ ! -L "$root/$g" ] || die "--include-nix-db: the image root's /$g is a symlink: the database is not written through it"
	done
	(umask 022 && mkdir -p "$root/nix/var/nix/db" "$root/nix/var/nix/gcroots/docker") || die "--include-nix-db: cannot make /nix/var/nix in the image root"
	if ! cp "$db/nix/var/nix/db/db.sqlite" "$db/nix/var/nix/db/schema" "$root/nix/var/nix/db/" ||
		! chmod 0644 "$root/nix/var/nix/db/db.sqlite" "$root/nix/var/nix/db/schema"; then
		die "--include-nix-db: cannot write the database into the image root"
	fi
	for g in "$@"; do
		[ -e "$root/nix/var/nix/gcroots/docker/${g##*/}" ] || [ -L "$root/nix/var/nix/gcroots/docker/${g##*/}" ] ||
			ln -s "$g" "$root/nix/var/nix/gcroots/docker/${g##*/}"
	done
}

# store_path_of PATH STORE_DIR: the store path PATH is, or is inside, or
# leads to (./result); nothing for a path outside the store.
store_path_of() {
	local p rel
	p=$(contents_store_path "$1" "$2")
	[ -n "$p" ] || return 0
	rel=${p#"$2"/}
	printf '%s/%s\n' "$2" "${rel%%/*}"
}
