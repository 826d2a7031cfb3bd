# shellcheck shell=bash
# One layer of its own derivation: its output is the layer's descriptor
# (path-to-layer --digest-only), which names the store paths it holds and
# so keeps them alive. Two images whose layers hold the same paths with the
# same options share this derivation.
#
# buildLayer (closure set, structured attributes): the closure of deps
# (exportReferencesGraph "depsGraph") and of copyToRoot ("rootGraph") less
# the copyToRoot store paths themselves, whose files go to the image root
# ($root) instead, and less the paths the layers below it hold
# (belowLayers, their descriptors). Otherwise: exactly $paths (one a line).
#
# Variables: common, layerName, closure, paths, root, rootItems,
# belowLayers, mtime, uid, gid, uname, gname, perms (the rules' file, or
# "").
# shellcheck source=common.sh
. "$common"
if [ -n "$closure" ]; then
	attrs=${NIX_ATTRS_JSON_FILE:-$NIX_BUILD_TOP/.attrs.json}
	held_paths "${belowLayers[@]}" >below
	closure-popularity --quiet --key depsGraph "$attrs" >deps ||
		fail "layer $layerName: reading the closure of its deps failed"
	: >items
	if [ ${#rootItems[@]} -gt 0 ]; then printf '%s\n' "${rootItems[@]}" >items; fi
	closure-popularity --quiet --key rootGraph --exclude-from items "$attrs" >rooted ||
		fail "layer $layerName: reading the closure of copyToRoot failed"
	cat deps rooted | awk 'NF && !seen[$0]++' | { grep -vxF -f below || [ $? -eq 1 ]; } >paths
else
	printf '%s\n' "$paths" | sed '/^$/d' >paths
fi
mapfile -t list <paths
if [ -n "$root" ]; then
	err=$(mktemp)
	path-to-layer --quiet --digest-only --root "$root" --mtime "$(seconds "$mtime")" --uid "$uid" --gid "$gid" \
		--uname "$uname" --gname "$gname" ${perms:+--perms "$perms"} -- "${list[@]}" >"$out" 2>"$err" ||
		fail "layer $layerName (root $root, store paths: ${list[*]}) failed: $(tail -n 1 "$err")"
elif [ ${#list[@]} -gt 0 ]; then
	measure_layer "$out" "$layerName" "${list[@]}"
else
	fail "layer $layerName holds nothing: its deps are all in the layers below it"
fi
