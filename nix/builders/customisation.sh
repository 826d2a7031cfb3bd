# shellcheck shell=bash
# The customisation layer of an image, as nixpkgs makes it: the contents
# joined into the image root as symlinkJoin joins them (directories, and
# symlinks into the store for their files), then extraCommands run in that
# root. Packed with path-to-layer --root (owner 0:0 root root, times
# $SOURCE_DATE_EPOCH, 1980-01-01, as nixpkgs packs it whatever the image's
# mtime) into $out/layer.tar, with its descriptor $out/layer.json.
#
# This is the one layer kept as a tar in the store: the store cannot keep
# the modes extraCommands set (it makes every file 0444 or 0555, a
# world-writable /tmp included). It is usually a few symlinks.
#
# Environment: common, libsh (scripts/lib.sh), contents (store paths, one
# a line), extraCommands.
# shellcheck source=common.sh
. "$common"
# shellcheck source=../../scripts/lib.sh
. "$libsh"
prog=dockertools

root=$PWD/root
mkdir -m 0755 "$root"
while IFS= read -r c; do
	[ -n "$c" ] || continue
	[ -d "$c" ] || fail "contents: $c is not a directory (contents are merged into the image root, as nixpkgs' symlinkJoin merges them)"
	link_tree "$c" "$root"
done <<<"$contents"
if [ -n "$extraCommands" ]; then
	(cd "$root" && eval "$extraCommands") || fail "extraCommands failed (exit status $?)"
fi
mkdir "$out"
# The root by a relative name: the descriptor records it, and the build
# directory's name may change from one build to the next.
cd "$root/.." || fail "cannot enter $root/.."
path-to-layer --quiet --root root --mtime "${SOURCE_DATE_EPOCH:-315532800}" \
	-o "$out/layer.tar" --descriptor "$out/layer.json" ||
	fail "packing the customisation layer failed"
