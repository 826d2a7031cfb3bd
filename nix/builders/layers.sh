# shellcheck shell=bash
# The automatic layers of an image: the closure of its contents and config
# (exportReferencesGraph "graph", with narSize) split as nixpkgs splits it
# (auto-layer within the budget of maxLayers, or the layeringPipeline),
# leaving out the image's own config and customisation layer and the paths
# its explicit layers hold.
#
# mode "descriptors": $out holds one descriptor per layer (JSON lines,
# bottom layer first), measured in parallel with path-to-layer
# --digest-only: no tar is written. mode "plan": $out is the plan (one
# layer per line, its paths separated by spaces), read at evaluation time
# to give each layer a derivation of its own (layerDerivations).
#
# Structured attributes: common, mode, excludePaths, explicitLayers (their
# descriptors), maxLayers, pipeline, fromImage, fromImageIsStream, includeStorePaths,
# mtime, uid, gid, uname, gname, perms (the rules' file, or "").
# shellcheck source=common.sh
. "$common"
attrs=${NIX_ATTRS_JSON_FILE:-$NIX_BUILD_TOP/.attrs.json}

if [ -z "$includeStorePaths" ]; then
	: >"$out"
	exit 0
fi

used=$((1 + ${#explicitLayers[@]}))
base_count=0
if [ -n "$fromImage" ]; then
	base=$(image_file "$fromImage" "$fromImageIsStream" "$TMPDIR")
	base_count=$(base_layers "$base")
	used=$((used + base_count))
fi

printf '%s\n' "${excludePaths[@]}" >exclude
held_paths "${explicitLayers[@]}" >>exclude

if [ -n "$pipeline" ]; then
	closure-popularity --quiet --key graph --pipeline "$pipeline" --exclude-from exclude "$attrs" >plan ||
		fail "layeringPipeline $pipeline failed"
else
	[ "$used" -lt "$maxLayers" ] ||
		fail "maxLayers = $maxLayers leaves no layer for the store paths ($base_count taken by fromImage, ${#explicitLayers[@]} by layers, 1 by the customisation layer)"
	closure-popularity --quiet --key graph --strategy auto --max-layers $((maxLayers - used)) \
		--exclude-from exclude "$attrs" >plan ||
		fail "splitting the closure into layers failed"
fi

if [ "$mode" = plan ]; then
	cp plan "$out"
	exit 0
fi

# One descriptor per layer, several at once, joined in order.
jobs=${NIX_BUILD_CORES:-1}
[ "$jobs" -gt 0 ] || jobs=$(nproc)
export common mtime uid gid uname gname perms
mkdir descriptors
# shellcheck disable=SC2016 # expanded by the bash that xargs runs
awk '{ print NR - 1, $0 }' plan | xargs -r -P "$jobs" -L1 bash -c '
	set -euo pipefail
	. "$common"
	i=$1
	shift
	measure_layer "descriptors/$i.json" "$((i + 1)) of the automatic layers" "$@"' measure
n=$(wc -l <plan)
for ((i = 0; i < n; i++)); do
	cat "descriptors/$i.json"
done >"$out"
