package imageconfig

import (
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"
)

// History is one entry of an image's history.
type History struct {
	Created    string `json:"created,omitempty"`
	CreatedBy  string `json:"created_by,omitempty"`
	Comment    string `json:"comment,omitempty"`
	EmptyLayer bool   `json:"empty_layer,omitempty"`
}

// Image is the image JSON (the config blob) of an image the toolkit
// writes.
type Image struct {
	Created      string          `json:"created"`
	Architecture string          `json:"architecture"`
	Variant      string          `json:"variant,omitempty"`
	OS           string          `json:"os"`
	Config       json.RawMessage `json:"config"`
	RootFS       RootFS          `json:"rootfs"`
	History      []History       `json:"history"`
}

// RootFS lists an image's layers by diffID, bottom first.
type RootFS struct {
	Type    string          `json:"type"`
	DiffIDs []digest.Digest `json:"diff_ids"`
}

// Base is what a new image takes from its base image's config.
type Base struct {
	Config  Config
	DiffIDs []digest.Digest
	History []History
	Arch    string
	Variant string
	OS      string
}

// ParseBase reads a base image's config blob.
func ParseBase(blob []byte) (Base, error) {
	var raw struct {
		Architecture string          `json:"architecture"`
		Variant      string          `json:"variant"`
		OS           string          `json:"os"`
		Config       json.RawMessage `json:"config"`
		RootFS       RootFS          `json:"rootfs"`
		History      []History       `json:"history"`
	}
	if err := json.Unmarshal(blob, &raw); err != nil {
		return Base{}, fmt.Errorf("image config: %w", err)
	}
	b := Base{DiffIDs: raw.RootFS.DiffIDs, History: raw.History, Arch: raw.Architecture, Variant: raw.Variant, OS: raw.OS}
	if len(raw.Config) > 0 && string(raw.Config) != "null" {
		c, err := Parse(raw.Config)
		if err != nil {
			return Base{}, fmt.Errorf("image config: %w", err)
		}
		b.Config = c
	}
	return b, nil
}

// LayerHistory returns the base's history with exactly one non-empty
// entry per layer: its own when it already has that, otherwise one
// made-up entry per layer, since registries refuse a mismatch.
func (b Base) LayerHistory(created string) []History {
	n := 0
	for _, h := range b.History {
		if !h.EmptyLayer {
			n++
		}
	}
	if n == len(b.DiffIDs) {
		return b.History
	}
	hs := make([]History, len(b.DiffIDs))
	for i := range hs {
		hs[i] = History{Created: created, Comment: fmt.Sprintf("base image layer %d", i+1)}
	}
	return hs
}

// JSON is the image JSON; its sha256 is the image ID.
func (im Image) JSON() []byte {
	b, _ := json.Marshal(im)
	return b
}
