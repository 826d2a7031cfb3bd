# shellcheck shell=bash
# The customisation layer of an image, as nixpkgs makes it: the contents
# joined into the image root as symlinkJoin joins them (directories, and
# symlinks into the store for their files), a Nix database of the
# contents' closure (includeNixDB: scripts/lib.sh's nix_db, as nixpkgs'
# mkDbExtraCommand), then extraCommands run in that root. Packed into
# $out/layer.tar, with its descriptor $out/layer.json:
#
# - by path-to-layer --root (owner 0:0 root root, times
#   $SOURCE_DATE_EPOCH, 1980-01-01, as nixpkgs packs it whatever the
#   image's mtime), with the permission rules of perms if any;
# - with fakeRootCommands or enableFakechroot, by lib.sh's custom_layer as
#   nixpkgs packs it: the commands, under fakeroot (and proot with the
#   root as "/"), then GNU tar in the same fakeroot session, which records
#   the owners and modes they set (nixpkgs' bytes for the same root).
#
# This is the one layer kept as a tar in the store: the store cannot keep
# the modes extraCommands set (it makes every file 0444 or 0555, a
# world-writable /tmp included), nor owners. It is usually a few symlinks.
#
# Structured attributes: common, libsh (scripts/lib.sh), contents (store
# paths), extraCommands, fakeRootCommands, enableFakechroot, includeNixDB
# (with the graph dbGraph), perms (the rules' file, or ""), storeDir.
# shellcheck source=../../scripts/lib.sh
. "$libsh"
# shellcheck source=common.sh
. "$common"
attrs=${NIX_ATTRS_JSON_FILE:-$NIX_BUILD_TOP/.attrs.json}
work=$NIX_BUILD_TOP/work
mkdir "$work"

root=$NIX_BUILD_TOP/root
mkdir -m 0755 "$root"
for c in "${contents[@]}"; do
	[ -d "$c" ] || fail "contents: $c is not a directory (contents are merged into the image root, as nixpkgs' symlinkJoin merges them)"
	link_tree "$c" "$root"
done
if [ -n "$includeNixDB" ]; then
	closure-popularity --quiet --key dbGraph --exclude-from /dev/null "$attrs" >"$work/closure" ||
		fail "includeNixDB: reading the closure of contents failed"
	LC_ALL=C sort -u "$work/closure" >"$work/closure.sorted"
	nix_db "$root" "$work/closure.sorted" "${contents[@]}"
fi
if [ -n "$extraCommands" ]; then
	(cd "$root" && eval "$extraCommands") || fail "extraCommands failed (exit status $?)"
fi
mkdir "$out"
if [ -n "$fakeRootCommands" ] || [ -n "$enableFakechroot" ]; then
	mode=fakeroot
	[ -z "$enableFakechroot" ] || mode=fakechroot
	custom_layer "$root" '' "$out/layer.tar" "$out/layer.json" "$mode" "$storeDir" "$fakeRootCommands"
	exit 0
fi
# The root by a relative name: the descriptor records it, and the build
# directory's name may change from one build to the next.
cd "$root/.." || fail "cannot enter $root/.."
path-to-layer --quiet --root root --mtime "${SOURCE_DATE_EPOCH:-315532800}" ${perms:+--perms "$perms"} \
	-o "$out/layer.tar" --descriptor "$out/layer.json" ||
	fail "packing the customisation layer failed"
