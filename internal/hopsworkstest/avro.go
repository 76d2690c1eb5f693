package hopsworkstest

import (
	"encoding/json"
	"fmt"
	"strings"
)

// AvroSchema returns a feature group's Avro schema as the server builds
// it (AvroSchemaConstructorController.java in logicalclocks/hopsworks):
// a record named {fg}_{version} in the feature store's namespace, each
// column a union of null and its type; arrays, maps and structs nest with
// nullable items, a struct becomes a record named "r" + |hash of its
// type| (Java's String.hashCode), decimal(p,s) is bytes with the decimal
// logical type, date an int date, timestamp a long timestamp-micros.
func AvroSchema(featureStore string, fg FeatureGroupDef) (string, error) {
	fields := make([]map[string]any, 0, len(fg.Features))
	for _, f := range fg.Features {
		t, err := toAvro(f.Type, f.Name)
		if err != nil {
			return "", fmt.Errorf("feature %s: %w", f.Name, err)
		}
		fields = append(fields, map[string]any{"name": f.Name, "type": t})
	}
	b, err := json.Marshal(map[string]any{
		"type": "record", "name": fg.Table(), "namespace": featureStore, "fields": fields,
	})
	return string(b), err
}

func toAvro(hiveType, namespace string) (any, error) {
	t := strings.ToLower(strings.Join(strings.Fields(hiveType), ""))
	var inner any
	var err error
	switch {
	case strings.HasPrefix(t, "array"):
		var it string
		if it, err = innerType(t, 5); err == nil {
			var items any
			if items, err = toAvro(it, namespace); err == nil {
				inner = map[string]any{"type": "array", "items": items}
			}
		}
	case strings.HasPrefix(t, "map"):
		var kv string
		if kv, err = innerType(t, 3); err == nil {
			k, v, _ := strings.Cut(kv, ",")
			if k != "string" {
				return nil, fmt.Errorf("map keys must be string, got %q", k)
			}
			var values any
			if values, err = toAvro(v, namespace); err == nil {
				inner = map[string]any{"type": "map", "values": values}
			}
		}
	case strings.HasPrefix(t, "struct"):
		var body string
		if body, err = innerType(t, 6); err == nil {
			name := fmt.Sprintf("r%d", abs64(int64(javaHash(t))))
			child := name
			if namespace != "" {
				child = namespace + "." + name
			}
			var fields []map[string]any
			for _, fd := range splitTop(body) {
				n, ft, ok := strings.Cut(fd, ":")
				if !ok {
					return nil, fmt.Errorf("malformed struct field %q", fd)
				}
				var ftype any
				if ftype, err = toAvro(ft, child); err != nil {
					return nil, err
				}
				fields = append(fields, map[string]any{"name": n, "type": ftype})
			}
			inner = map[string]any{"type": "record", "name": name, "namespace": namespace, "fields": fields}
		}
	default:
		inner, err = avroPrimitive(t)
	}
	if err != nil {
		return nil, err
	}
	return []any{"null", inner}, nil
}

func avroPrimitive(t string) (any, error) {
	switch {
	case t == "int" || t == "smallint" || t == "tinyint":
		return "int", nil
	case t == "boolean":
		return "boolean", nil
	case t == "binary":
		return "bytes", nil
	case t == "bigint":
		return "long", nil
	case t == "float":
		return "float", nil
	case t == "double":
		return "double", nil
	case t == "string":
		return "string", nil
	case t == "date":
		return map[string]any{"type": "int", "logicalType": "date"}, nil
	case t == "timestamp":
		return map[string]any{"type": "long", "logicalType": "timestamp-micros"}, nil
	case strings.HasPrefix(t, "decimal"):
		var p, s int
		if _, err := fmt.Sscanf(t, "decimal(%d,%d)", &p, &s); err != nil {
			return nil, fmt.Errorf("malformed type %q", t)
		}
		return map[string]any{"type": "bytes", "logicalType": "decimal", "precision": p, "scale": s}, nil
	}
	return nil, fmt.Errorf("type %q is not valid or not supported", t)
}

func innerType(t string, offset int) (string, error) {
	in := t[offset:]
	if !strings.HasPrefix(in, "<") || !strings.HasSuffix(in, ">") {
		return "", fmt.Errorf("malformed type %q", t)
	}
	return in[1 : len(in)-1], nil
}

// splitTop splits struct fields on the commas outside <> and ().
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '<', '(':
			depth++
		case '>', ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// javaHash is Java's String.hashCode (UTF-16 code units; the types here
// are ASCII).
func javaHash(s string) int32 {
	var h int32
	for _, c := range s {
		h = 31*h + int32(c)
	}
	return h
}

func abs64(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
