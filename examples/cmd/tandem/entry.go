package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxEntryBytes caps one entry's text.
const maxEntryBytes = 64 << 10

// parseEntry reads one entry from its words on the command line: a single
// JSON object, or k=v pairs.
func parseEntry(words []string) (map[string]any, error) {
	if len(words) == 0 {
		return nil, errors.New("no entry: give a JSON object such as '{\"cc_num\": 100001}' or k=v pairs such as cc_num=100001")
	}
	if len(words) == 1 && strings.HasPrefix(strings.TrimSpace(words[0]), "{") {
		return parseJSONEntry([]byte(words[0]))
	}
	entry := make(map[string]any, len(words))
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("entry: %q is not k=v (or give the whole entry as one JSON object)", w)
		}
		if _, dup := entry[k]; dup {
			return nil, fmt.Errorf("entry: %q is given twice", k)
		}
		entry[k] = scalar(v)
	}
	return entry, nil
}

// scalar is v as an int64 or a float64 when it parses as one, as a string
// otherwise; a JSON string literal ("123") stays a string.
func scalar(v string) any {
	if i, err := strconv.ParseInt(v, 10, 64); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return f
	}
	if strings.HasPrefix(v, `"`) {
		var s string
		if json.Unmarshal([]byte(v), &s) == nil {
			return s
		}
	}
	return v
}

// parseJSONEntry decodes one JSON object whose values are scalars:
// integers become int64, other numbers float64.
func parseJSONEntry(b []byte) (map[string]any, error) {
	if len(b) > maxEntryBytes {
		return nil, fmt.Errorf("entry: %d bytes, more than %d", len(b), maxEntryBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var entry map[string]any
	if err := dec.Decode(&entry); err != nil {
		return nil, fmt.Errorf("entry: not a JSON object: %w", err)
	}
	if dec.More() {
		return nil, errors.New("entry: more than one JSON value")
	}
	if len(entry) == 0 {
		return nil, errors.New("entry: empty: give the serving keys, e.g. {\"cc_num\": 100001}")
	}
	for k, v := range entry {
		switch x := v.(type) {
		case json.Number:
			if i, err := x.Int64(); err == nil {
				entry[k] = i
			} else if f, err := x.Float64(); err == nil {
				entry[k] = f
			} else {
				return nil, fmt.Errorf("entry: %q: %v is out of range", k, x)
			}
		case string, bool:
		default:
			return nil, fmt.Errorf("entry: %q must be a number or a string, not %T", k, v)
		}
	}
	return entry, nil
}

// readEntries reads one entry per line (JSON or space-separated k=v);
// blank lines and lines starting with # are skipped.
func readEntries(r io.Reader) ([]map[string]any, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxEntryBytes)
	var out []map[string]any
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		words := []string{line}
		if !strings.HasPrefix(line, "{") {
			words = strings.Fields(line)
		}
		e, err := parseEntry(words)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("entries: %w", err)
	}
	return out, nil
}

// entryString renders an entry as compact JSON with sorted keys.
func entryString(e map[string]any) string {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Sprint(e)
	}
	return string(b)
}
