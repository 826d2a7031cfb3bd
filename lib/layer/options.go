package layer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ParseTime reads a time given as seconds since the epoch ("1") or as an
// RFC 3339 date ("2001-09-09T01:46:40Z"), and returns the seconds.
func ParseTime(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither seconds since the epoch nor an RFC 3339 date", s)
	}
	return t.Unix(), nil
}

// ReadPathList reads store paths from r: a JSON array of strings, or paths
// separated by white space (one per line, or a plan line of several).
func ReadPathList(r io.Reader, name string) ([]string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var elems []*string
		if err := json.Unmarshal(trimmed, &elems); err != nil {
			return nil, fmt.Errorf("%s: not a JSON array of paths: %v", name, err)
		}
		paths := make([]string, len(elems))
		for i, e := range elems {
			if e == nil {
				return nil, fmt.Errorf("%s: element %d of the JSON array is null, not a path", name, i+1)
			}
			paths[i] = *e
		}
		return paths, nil
	}
	var paths []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), len(data)+1)
	for sc.Scan() {
		paths = append(paths, strings.Fields(sc.Text())...)
	}
	return paths, sc.Err()
}
