// Package imageconfig owns the image config: checking the "config" object
// a user gives (each known field has the type the OCI image spec and
// Docker give it; unknown fields pass through untouched), laying it over a
// base image's config (Env merged one entry per variable, the first
// position kept and the new value winning, as nixpkgs and Kubernetes
// expect), the architecture default, refusing an entrypoint that cannot
// run on the image's architecture, and writing the image JSON.
package imageconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
)

// Config is an image's "config" object, field by field. Field order is not
// kept: JSON output sorts the keys.
type Config map[string]json.RawMessage

type kind int

const (
	kString kind = iota
	kStrings
	kSet
	kLabels
	kBool
	kInt
	kHealthcheck
)

// fields lists the fields whose type is known.
var fields = map[string]kind{
	"User": kString, "WorkingDir": kString, "StopSignal": kString,
	"Hostname": kString, "Domainname": kString, "Image": kString, "MacAddress": kString,
	"Env": kStrings, "Entrypoint": kStrings, "Cmd": kStrings, "OnBuild": kStrings, "Shell": kStrings,
	"ExposedPorts": kSet, "Volumes": kSet,
	"Labels":      kLabels,
	"ArgsEscaped": kBool, "AttachStdin": kBool, "AttachStdout": kBool, "AttachStderr": kBool,
	"Tty": kBool, "OpenStdin": kBool, "StdinOnce": kBool, "NetworkDisabled": kBool,
	"StopTimeout": kInt, "Memory": kInt, "MemorySwap": kInt, "CpuShares": kInt,
	"Healthcheck": kHealthcheck,
}

var kindNames = map[kind]string{
	kString: "a string", kStrings: "an array of strings", kSet: "an object of objects",
	kLabels: "an object of strings", kBool: "true or false", kInt: "an integer",
	kHealthcheck: "an object with Test (array of strings), Interval, Timeout, StartPeriod, StartInterval, Retries (integers)",
}

// Parse reads a config object and checks the type of every known field.
// Null stands for an unset field.
func Parse(data []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&c); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("malformed JSON at byte %d: %v", se.Offset, err)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, errors.New("the config must be a JSON object")
		}
		return nil, err
	}
	// Not dec.More: it reports false before a stray "}" or "]", which
	// would then pass unnoticed.
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the config object")
	}
	if c == nil {
		return nil, errors.New("the config must be a JSON object, not null")
	}
	for _, name := range c.keys() {
		if err := check(name, c[name]); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c Config) keys() []string {
	ks := make([]string, 0, len(c))
	for k := range c {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func check(name string, raw json.RawMessage) error {
	k, known := fields[name]
	if !known || string(raw) == "null" {
		return nil
	}
	var ok bool
	switch k {
	case kString:
		var s string
		ok = json.Unmarshal(raw, &s) == nil
	case kStrings:
		var s []string
		ok = json.Unmarshal(raw, &s) == nil && !hasNull(raw)
	case kSet:
		var m map[string]map[string]json.RawMessage
		ok = json.Unmarshal(raw, &m) == nil && !hasNullValue(m)
	case kLabels:
		var m map[string]string
		ok = json.Unmarshal(raw, &m) == nil && !hasNull(raw)
	case kBool:
		var b bool
		ok = json.Unmarshal(raw, &b) == nil
	case kInt:
		var n int64
		ok = json.Unmarshal(raw, &n) == nil
	case kHealthcheck:
		var h struct {
			Test                                                   []string
			Interval, Timeout, StartPeriod, StartInterval, Retries int64
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		ok = dec.Decode(&h) == nil && raw[0] == '{'
	}
	if !ok {
		return fmt.Errorf("config field %s must be %s, not %s", name, kindNames[k], describe(raw))
	}
	return nil
}

// hasNull reports whether an array or object holds a null element, which
// Go's decoder would silently turn into an empty string.
func hasNull(raw json.RawMessage) bool {
	var xs []json.RawMessage
	if json.Unmarshal(raw, &xs) == nil {
		for _, x := range xs {
			if string(x) == "null" {
				return true
			}
		}
		return false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) == nil {
		for _, x := range m {
			if string(x) == "null" {
				return true
			}
		}
	}
	return false
}

func hasNullValue(m map[string]map[string]json.RawMessage) bool {
	for _, v := range m {
		if v == nil {
			return true
		}
	}
	return false
}

func describe(raw json.RawMessage) string {
	switch raw[0] {
	case '"':
		return "a string"
	case '[':
		return "an array holding something else"
	case '{':
		return "an object holding something else"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// Strings returns a field holding an array of strings (nil when unset).
func (c Config) Strings(name string) []string {
	var s []string
	if raw, ok := c[name]; ok {
		json.Unmarshal(raw, &s)
	}
	return s
}

// SetStrings sets a field to an array of strings.
func (c Config) SetStrings(name string, s []string) {
	if s == nil {
		s = []string{}
	}
	raw, _ := json.Marshal(s)
	c[name] = raw
}

// MergeEnv lays over's variables over base's: one entry per variable name
// (the text before the first "="), at the position of its first
// appearance, with the value of its last.
func MergeEnv(base, over []string) []string {
	var out []string
	pos := map[string]int{}
	for _, e := range append(append([]string(nil), base...), over...) {
		name, _, _ := strings.Cut(e, "=")
		if i, ok := pos[name]; ok {
			out[i] = e
			continue
		}
		pos[name] = len(out)
		out = append(out, e)
	}
	return out
}

// Overlay returns over laid on base: over's fields win, fields over does
// not set (absent or null) are inherited, and Env is merged with MergeEnv.
func Overlay(base, over Config) Config {
	out := Config{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if _, inherited := out[k]; inherited && string(v) == "null" {
			continue
		}
		out[k] = v
	}
	if env := MergeEnv(base.Strings("Env"), over.Strings("Env")); len(env) > 0 {
		out.SetStrings("Env", env)
	}
	// As in a Dockerfile: a new entrypoint does not run with the base's
	// arguments.
	_, newEntrypoint := over["Entrypoint"]
	_, newCmd := over["Cmd"]
	if newEntrypoint && !newCmd {
		delete(out, "Cmd")
	}
	return out
}

// JSON is the config's compact JSON, keys sorted.
func (c Config) JSON() json.RawMessage {
	if c == nil {
		return json.RawMessage("{}")
	}
	b, _ := json.Marshal(map[string]json.RawMessage(c))
	return b
}

// DefaultArch is this machine's architecture in the image spec's terms,
// with the variant for 32-bit ARM.
func DefaultArch() (arch, variant string) {
	if runtime.GOARCH == "arm" {
		return "arm", "v7"
	}
	return runtime.GOARCH, ""
}
