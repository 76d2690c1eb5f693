package featurestore

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"
)

// keyKind is the class of a key column's type: it says which Go values
// an entry may give for it, and what they are normalised to.
type keyKind uint8

const (
	kindAny    keyKind = iota // unknown type: any scalar, normalised
	kindInt                   // tinyint … bigint: Go integers, integral floats, json.Number
	kindFloat                 // float, double, decimal: Go numbers
	kindString                // string, varchar, char: string
	kindBool                  // boolean: bool (sent and matched as 0/1)
	kindTime                  // date, timestamp: time.Time
	kindBytes                 // binary: []byte or string
)

var kindNames = [...]string{"any scalar", "an integer", "a number", "a string", "a bool", "a time.Time", "bytes"}

// kindOf classifies a Hive (or MySQL) type name such as "bigint",
// "decimal(10,2)" or "varchar(100)".
func kindOf(typ string) keyKind {
	t := strings.ToLower(strings.TrimSpace(typ))
	if i := strings.IndexAny(t, "( "); i >= 0 {
		t = t[:i]
	}
	switch t {
	case "tinyint", "smallint", "int", "integer", "bigint", "mediumint":
		return kindInt
	case "float", "double", "decimal", "real":
		return kindFloat
	case "string", "varchar", "char", "text":
		return kindString
	case "boolean", "bool":
		return kindBool
	case "date", "timestamp", "datetime":
		return kindTime
	case "binary", "varbinary", "blob":
		return kindBytes
	}
	return kindAny
}

// normalize converts an entry value to the canonical Go type of its
// column kind: int64 (or uint64 above MaxInt64), float64, string, []byte,
// time.Time. The same canonical values come back from the online store,
// so keys match however the caller typed them (int vs int64, float64 from
// JSON). It reports false when v does not fit the kind.
func normalize(v any, k keyKind) (any, bool) {
	switch x := v.(type) {
	case nil:
		return nil, false
	case int64:
		return numeric(x, k)
	case int:
		return numeric(int64(x), k)
	case int32:
		return numeric(int64(x), k)
	case int16:
		return numeric(int64(x), k)
	case int8:
		return numeric(int64(x), k)
	case uint:
		return unsigned(uint64(x), k)
	case uint64:
		return unsigned(x, k)
	case uint32:
		return numeric(int64(x), k)
	case uint16:
		return numeric(int64(x), k)
	case uint8:
		return numeric(int64(x), k)
	case float64:
		return float(x, k)
	case float32:
		return float(float64(x), k)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return numeric(i, k)
		}
		if f, err := x.Float64(); err == nil {
			return float(f, k)
		}
		return nil, false
	case string:
		switch k {
		case kindString, kindAny:
			return x, true
		case kindBytes:
			return x, true
		}
		return nil, false
	case []byte:
		if k == kindBytes || k == kindAny || k == kindString {
			return string(x), true
		}
		return nil, false
	case bool:
		if k == kindBool || k == kindAny {
			if x {
				return int64(1), true
			}
			return int64(0), true
		}
		return nil, false
	case time.Time:
		if k == kindTime || k == kindAny {
			return x.UTC(), true
		}
		return nil, false
	}
	return nil, false
}

func numeric(i int64, k keyKind) (any, bool) {
	switch k {
	case kindInt, kindAny:
		return i, true
	case kindFloat:
		return float64(i), true
	case kindBool:
		if i == 0 || i == 1 {
			return i, true
		}
	}
	return nil, false
}

func unsigned(u uint64, k keyKind) (any, bool) {
	if u <= math.MaxInt64 {
		return numeric(int64(u), k)
	}
	switch k {
	case kindInt, kindAny:
		return u, true
	case kindFloat:
		return float64(u), true
	}
	return nil, false
}

func float(f float64, k keyKind) (any, bool) {
	switch k {
	case kindFloat:
		return f, true
	case kindInt, kindAny, kindBool:
		// A float from JSON decoding is accepted for an integer column
		// when it is integral and exact.
		if f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
			return numeric(int64(f), k)
		}
		if k == kindAny && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, true
		}
	}
	return nil, false
}

func goType(v any) string {
	if v == nil {
		return "nil"
	}
	return reflect.TypeOf(v).String()
}

// resolved is an entry resolved against a plan: the normalised key of
// each group, flattened (group g's key is args[g.argOffset:][:len(g.keys)]),
// which groups have no key and are not read: skipped (their features are
// all passed) or absent (AllowMissing: their features are nil).
type resolved struct {
	args    []any
	skipped uint64 // bit per group; at most 64 groups can go unread
	absent  uint64
}

// skip reports whether group g is not read.
func (r *resolved) skip(g int) bool { return g < 64 && (r.skipped|r.absent)&(1<<g) != 0 }

// isAbsent reports whether group g was left out under AllowMissing.
func (r *resolved) isAbsent(g int) bool { return g < 64 && r.absent&(1<<g) != 0 }

// resolve validates entry against the plan's serving keys (see the
// package doc, "Vectors") and fills args (len p.nkeys). passed are the
// passed features: a group whose key is absent altogether is skipped when
// every feature it serves is passed, and with allowMissing it is left out
// (its features nil) instead of failing with ErrMissingServingKey. idx is
// the batch index (-1 for one vector).
func (p *plan) resolve(entry map[string]any, passed map[string]any, idx int, args []any, allowMissing bool) (resolved, error) {
	r := resolved{args: args}
	for k := range entry {
		if _, ok := p.accepted[k]; !ok {
			return r, p.keyErr(k, "", idx, ErrUnknownServingKey, func(e *KeyError) { e.Valid = p.valid })
		}
	}
	for gi, g := range p.groups {
		given, first := 0, -1
		for ki, k := range g.keys {
			var v any
			found := false
			for _, n := range k.names {
				if v, found = entry[n]; found {
					break
				}
			}
			if !found {
				if first < 0 {
					first = ki
				}
				continue
			}
			nv, ok := normalize(v, k.kind)
			if !ok {
				name := k.names[0]
				for _, n := range k.names {
					if _, ok := entry[n]; ok {
						name = n
						break
					}
				}
				return r, p.keyErr(name, g.fgName, idx, ErrKeyType, func(e *KeyError) {
					e.Want, e.Got = kindNames[k.kind], goType(v)
					if k.typ != "" {
						e.Want = k.typ + " (" + kindNames[k.kind] + ")"
					}
				})
			}
			args[g.argOffset+ki] = nv
			given++
		}
		switch {
		case given == len(g.keys):
		case given > 0:
			return r, p.keyErr(g.keys[first].names[0], g.fgName, idx, ErrPartialCompositeKey, nil)
		case gi < 64 && allPassed(g, p, passed):
			r.skipped |= 1 << gi
		case gi < 64 && allowMissing:
			r.absent |= 1 << gi
		default:
			return r, p.keyErr(g.keys[first].names[0], g.fgName, idx, ErrMissingServingKey, nil)
		}
	}
	return r, nil
}

func allPassed(g *group, p *plan, passed map[string]any) bool {
	if len(g.outs) == 0 {
		return true // it serves no feature of the vector
	}
	if len(passed) == 0 {
		return false
	}
	for _, o := range g.outs {
		if _, ok := passed[p.names[o.pos]]; !ok {
			return false
		}
	}
	return true
}

func (p *plan) keyErr(key, fg string, idx int, err error, more func(*KeyError)) error {
	e := &KeyError{FeatureView: p.name, Version: p.version, Key: key, FeatureGroup: fg, Entry: idx, Err: err}
	if more != nil {
		more(e)
	}
	return e
}

// appendKey appends a canonical encoding of normalised key values, so
// that equal keys (an entry's and a row's) encode equally. fold lower-cases
// strings and drops trailing spaces, as MySQL's default collations compare.
func appendKey(b []byte, vals []any, fold bool) []byte {
	for _, v := range vals {
		switch x := v.(type) {
		case nil:
			b = append(b, 'n')
		case int64:
			b = append(b, 'i')
			b = binary.LittleEndian.AppendUint64(b, uint64(x))
		case uint64:
			b = append(b, 'u')
			b = binary.LittleEndian.AppendUint64(b, x)
		case float64:
			b = append(b, 'f')
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
		case string:
			b = appendStr(b, x, fold)
		case []byte:
			b = appendStr(b, string(x), fold)
		case time.Time:
			b = append(b, 't')
			b = binary.LittleEndian.AppendUint64(b, uint64(x.UnixNano()))
		default:
			b = appendStr(append(b, 'x'), fmt.Sprint(x), fold)
		}
	}
	return b
}

func appendStr(b []byte, s string, fold bool) []byte {
	if fold {
		s = strings.ToLower(strings.TrimRight(s, " "))
	}
	b = append(b, 's')
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}
