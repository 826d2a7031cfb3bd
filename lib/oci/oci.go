// Package oci owns the OCI image layout: a directory (what skopeo calls
// oci:DIR) or a tar of one (oci-archive:FILE), written and read.
//
//	oci-layout              {"imageLayoutVersion": "1.0.0"}
//	blobs/sha256/<hex>      every blob, named by the sha256 of its bytes:
//	                        layers (tar, tar+gzip or tar+zstd), configs,
//	                        manifests, and nested indexes
//	index.json              the entry points: one descriptor per name of
//	                        each image, annotated with its tag
//	                        (org.opencontainers.image.ref.name) and full
//	                        name (io.containerd.image.name), as docker save
//	                        and BuildKit write them
//
// The writer takes images of the lib/image model and stores each blob
// once; layers are compressed as asked, a few at once and each on several
// cores, into bytes that depend only on the layer (any GOMAXPROCS, any
// machine), while the config keeps the uncompressed diffIDs. A layer the
// reader found already compressed as asked is copied, not compressed again.
//
// The reader treats its input as untrusted: blobs are checked against
// their digests as they are read, JSON documents and decompressed layers
// are bounded as the docker-archive reader bounds them, and a layout
// directory is read through os.Root, so a symlink cannot lead outside it.
package oci

import (
	"fmt"

	"github.com/go-dockertools/dockertools/lib/compress"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Media types of other writers that the reader takes as their OCI
// counterparts.
const (
	dockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	dockerConfig       = "application/vnd.docker.container.image.v1+json"
	dockerLayer        = "application/vnd.docker.image.rootfs.diff.tar"
	dockerLayerGzip    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	dockerLayerZstd    = "application/vnd.docker.image.rootfs.diff.tar.zstd"
)

// Annotation keys of index.json entries.
const (
	// AnnotationImageName is containerd's full image name, which ctr
	// import and docker load (25+) read.
	AnnotationImageName = "io.containerd.image.name"
)

// LayerMediaType is the OCI media type of a layer blob compressed as kind.
func LayerMediaType(kind compress.Kind) string {
	switch kind {
	case compress.Gzip:
		return v1.MediaTypeImageLayerGzip
	case compress.Zstd:
		return v1.MediaTypeImageLayerZstd
	}
	return v1.MediaTypeImageLayer
}

// LayerCompression is the compression a layer media type says, OCI's or
// Docker's.
func LayerCompression(mediaType string) (compress.Kind, error) {
	switch mediaType {
	case v1.MediaTypeImageLayer, dockerLayer, v1.MediaTypeImageLayerNonDistributable: //nolint:staticcheck // still found in the wild
		return compress.None, nil
	case v1.MediaTypeImageLayerGzip, dockerLayerGzip, v1.MediaTypeImageLayerNonDistributableGzip: //nolint:staticcheck
		return compress.Gzip, nil
	case v1.MediaTypeImageLayerZstd, dockerLayerZstd, v1.MediaTypeImageLayerNonDistributableZstd: //nolint:staticcheck
		return compress.Zstd, nil
	}
	return "", fmt.Errorf("unknown layer media type %q", mediaType)
}

func isManifest(mediaType string) bool {
	return mediaType == v1.MediaTypeImageManifest || mediaType == dockerManifest
}

func isIndex(mediaType string) bool {
	return mediaType == v1.MediaTypeImageIndex || mediaType == dockerManifestList
}
