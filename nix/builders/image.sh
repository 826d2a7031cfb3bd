# shellcheck shell=bash
# buildImage: one layer on an optional base image, as nixpkgs' buildImage
# makes it: the copyToRoot directories copied into the image root, a Nix
# database of their closure (includeNixDB: scripts/lib.sh's nix_db, as
# nixpkgs' mkDbExtraCommand), extraCommands run there, and the closure of
# copyToRoot and the config (exportReferencesGraph "graph") less the store
# paths the base image and the explicit layers hold already. The layer is
# packed in the build directory, with the permission rules of perms if
# any; $out is the image archive.
#
# Structured attributes: common, libsh, copyToRoot, extraCommands,
# excludePaths, explicitLayers (their descriptors), fromImage,
# fromImageIsStream, fromImageName, fromImageTag, includeStorePaths,
# includeNixDB (with the graph dbGraph), perms (the rules' file, or ""),
# imageName, tag, config, created, architecture, compress, mtime, uid,
# gid, uname, gname.
# shellcheck source=../../scripts/lib.sh
. "$libsh"
# shellcheck source=common.sh
. "$common"
attrs=${NIX_ATTRS_JSON_FILE:-$NIX_BUILD_TOP/.attrs.json}
work=$NIX_BUILD_TOP/work
mkdir "$work"

root=$PWD/root
mkdir -m 0755 "$root"
for item in "${copyToRoot[@]}"; do
	[ -d "$item" ] || fail "copyToRoot: $item is not a directory"
	cp -a --remove-destination "$item"/. "$root"/ || fail "copyToRoot: copying $item failed"
	# Directories writable (by the next copy, by extraCommands); files keep
	# their modes, as nixpkgs' rsync keeps them.
	find "$root" -type d -exec chmod u+w {} +
done
if [ -n "$includeNixDB" ]; then
	closure-popularity --quiet --key dbGraph --exclude-from /dev/null "$attrs" >"$work/closure" ||
		fail "includeNixDB: reading the closure of copyToRoot failed"
	LC_ALL=C sort -u "$work/closure" >"$work/closure.sorted"
	nix_db "$root" "$work/closure.sorted" "${copyToRoot[@]}"
fi
if [ -n "$extraCommands" ]; then
	(cd "$root" && eval "$extraCommands") || fail "extraCommands failed (exit status $?)"
fi

base_tag=''
if [ -n "$fromImageName" ]; then base_tag=$fromImageName:${fromImageTag:-latest}; fi
printf '%s\n' "${excludePaths[@]}" >exclude
base=''
if [ -n "$fromImage" ]; then
	base=$(image_file "$fromImage" "$fromImageIsStream" "$TMPDIR")
	base_store_paths "$base" "$base_tag" >>exclude
fi
held_paths "${explicitLayers[@]}" >>exclude
store_paths=()
if [ -n "$includeStorePaths" ]; then
	closure-popularity --quiet --key graph --exclude-from exclude "$attrs" >store-paths ||
		fail "reading the closure of copyToRoot and config failed"
	mapfile -t store_paths <store-paths
fi

err=$(mktemp)
path-to-layer --quiet --root "$root" --mtime "$(seconds "$mtime")" --uid "$uid" --gid "$gid" \
	--uname "$uname" --gname "$gname" ${perms:+--perms "$perms"} -o layer.tar --descriptor layer.json \
	-- "${store_paths[@]}" 2>"$err" ||
	fail "the layer of buildImage (root and ${#store_paths[@]} store paths: ${store_paths[*]}) failed: $(tail -n 1 "$err")"

if [ -z "$tag" ]; then
	tag=${out##*/}
	tag=${tag%%-*}
fi
assemble=(assemble-image --quiet --tag "$imageName:$tag" --config "$config" --created "$created"
	--arch "$architecture" --compress "$compress")
if [ -n "$base" ]; then
	assemble+=(--from-image "$base")
	[ -z "$base_tag" ] || assemble+=(--from-image-tag "$base_tag")
fi
"${assemble[@]}" "${explicitLayers[@]}" layer.json >"$out" 2>"$err" ||
	fail "assembling $imageName:$tag failed: $(tail -n 1 "$err")"
