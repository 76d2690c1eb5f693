package featurestore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
)

// fuzzPlan is a plan with every key kind, built by hand: resolve needs no
// statements.
func fuzzPlan() *plan {
	p := &plan{name: "f", version: 1, pos: map[string]int{"x": 0, "y": 1}, names: []string{"x", "y"}, accepted: map[string]struct{}{}}
	mk := func(col, typ string, required bool, names ...string) *keySpec {
		return &keySpec{column: col, typ: typ, kind: kindOf(typ), required: required, names: names}
	}
	p.groups = []*group{
		{fgName: "a", keys: []*keySpec{mk("aid", "bigint", true, "aid")}, outs: []outColumn{{pos: 0}}},
		{fgName: "b", keys: []*keySpec{mk("cc", "string", true, "b_cc", "cc"), mk("tier", "int", true, "b_tier", "tier")}, outs: []outColumn{{pos: 1}}},
		{fgName: "c", keys: []*keySpec{mk("f", "double", false, "f"), mk("ok", "boolean", false, "ok"), mk("bin", "binary", false, "bin"), mk("any", "", false, "any")}},
	}
	for _, g := range p.groups {
		g.argOffset = p.nkeys
		p.nkeys += len(g.keys)
		for _, k := range g.keys {
			for _, n := range k.names {
				p.accepted[n] = struct{}{}
			}
		}
	}
	return p
}

// FuzzResolveEntry feeds entries decoded from JSON (the usual outside
// input: a request body) to entry validation, with and without
// AllowMissing: it never panics, errors are typed, AllowMissing never
// reports a missing key, and the keys of the groups an accepted entry
// reads normalise to canonical values whose key encoding is stable.
func FuzzResolveEntry(f *testing.F) {
	for _, s := range []string{
		`{"aid": 1, "b_cc": "SE", "b_tier": 2, "f": 1.5, "ok": true, "bin": "x", "any": 3}`,
		`{"aid": 1.0, "cc": "SE", "tier": 2, "f": 1, "ok": false, "bin": "", "any": "z"}`,
		`{"aid": "1"}`, `{"aid": 1, "b_cc": "SE"}`, `{"nope": 1}`, `{"aid": null}`,
		`{"aid": 1e300, "b_cc": "x", "b_tier": -9223372036854775808, "f": 1, "ok": 1, "bin": "", "any": [1]}`,
		`{"aid": 18446744073709551615, "b_cc": "x", "b_tier": 0, "f": 0, "ok": 0, "bin": "", "any": {}}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	p := fuzzPlan()
	f.Fuzz(func(t *testing.T, body []byte, allowMissing bool) {
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		var entry map[string]any
		if d.Decode(&entry) != nil {
			return
		}
		args := make([]any, p.nkeys)
		r, err := p.resolve(entry, nil, -1, args, allowMissing)
		if allowMissing && errors.Is(err, ErrMissingServingKey) {
			t.Fatalf("AllowMissing reported a missing key: %v", err)
		}
		if err != nil {
			var ke *KeyError
			if !errors.As(err, &ke) {
				t.Fatalf("untyped error %v", err)
			}
			switch {
			case errors.Is(err, ErrUnknownServingKey), errors.Is(err, ErrMissingServingKey),
				errors.Is(err, ErrPartialCompositeKey), errors.Is(err, ErrKeyType):
			default:
				t.Fatalf("unexpected sentinel: %v", err)
			}
			_ = err.Error()
			return
		}
		read := make([]bool, len(args))
		for gi, g := range p.groups {
			if r.isAbsent(gi) && !allowMissing {
				t.Fatalf("group %d absent without AllowMissing", gi)
			}
			for ki := range g.keys {
				read[g.argOffset+ki] = !r.skip(gi)
			}
		}
		for i, v := range r.args {
			switch v.(type) {
			case int64, uint64, float64, string, time.Time:
			case nil:
				if read[i] {
					t.Fatalf("arg %d of a group that is read is nil", i)
				}
			default:
				t.Fatalf("arg %d is %T, not canonical", i, v)
			}
		}
		// Normalising canonical values again changes nothing.
		again := make([]any, len(args))
		for gi, g := range p.groups {
			if r.skip(gi) {
				continue
			}
			for ki, k := range g.keys {
				v, ok := normalize(args[g.argOffset+ki], k.kind)
				if !ok {
					t.Fatalf("group %d key %d: canonical %#v refused", gi, ki, args[g.argOffset+ki])
				}
				again[g.argOffset+ki] = v
			}
		}
		if !bytes.Equal(appendKey(nil, args, false), appendKey(nil, again, false)) {
			t.Fatalf("key encoding changed: %v vs %v", args, again)
		}
	})
}

// TestNormalizeMatchesRows: the Go types callers use for keys encode like
// the values the online store decodes for the same column.
func TestNormalizeMatchesRows(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	for _, tc := range []struct {
		typ  string
		in   any
		row  any
		fold bool
	}{
		{"bigint", int(7), int64(7), false},
		{"int", uint8(7), int64(7), false},
		{"bigint", json.Number("7"), int64(7), false},
		{"bigint", 7.0, int64(7), false},
		{"double", 7, 7.0, false},
		{"string", "SE", "SE", false},
		{"string", []byte("SE"), "SE", false},
		{"string", "se ", "SE", true},
		{"binary", "ab", []byte("ab"), false},
		{"boolean", true, int64(1), false},
		{"timestamp", ts, ts.UTC(), false},
		{"", int16(3), int64(3), false},
	} {
		v, ok := normalize(tc.in, kindOf(tc.typ))
		if !ok {
			t.Fatalf("%s %#v refused", tc.typ, tc.in)
		}
		a, b := appendKey(nil, []any{v}, tc.fold), appendKey(nil, []any{tc.row}, tc.fold)
		if !bytes.Equal(a, b) {
			t.Fatalf("%s %#v -> %#v does not match row %#v", tc.typ, tc.in, v, tc.row)
		}
	}
}

// FuzzSelectedColumns: statements come from metadata; reading their
// select list never panics, and a list it reads has no more items than
// the statement has top-level commas plus one.
func FuzzSelectedColumns(f *testing.F) {
	for _, s := range []string{
		"SELECT `fg0`.`tax` AS `c_tax`, `fg0`.`cc` AS `c_cc`\nFROM `p`.`t` AS `fg0`\nWHERE (`fg0`.`cc`, `fg0`.`tier`) IN ?",
		"select a, (b, c) as d from t", "SELECT 'x\\'', \"y\"\"\" FROM t", "SELECT /* */ a -- \n FROM t", "SELECT `a``b` FROM",
		"SELECT * FROM t", "SELECT a) FROM t", "SELECT", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		cols, err := selectedColumns(sql)
		if err == nil && len(cols) > strings.Count(sql, ",")+1 {
			t.Fatalf("%q: %d columns from %d commas", sql, len(cols), strings.Count(sql, ","))
		}
	})
}

// FuzzComplexDecode: complex values come from the online store as bytes
// (outside input); decoding them with a column's Avro schema never
// panics or hangs, and whatever decodes is a plain Go value.
func FuzzComplexDecode(f *testing.F) {
	schemas := []string{
		`["null",{"type":"array","items":["null","int"]}]`,
		`["null",{"type":"record","name":"r1","namespace":"fs.addr","fields":[{"name":"city","type":["null","string"]},{"name":"zip","type":["null","int"]}]}]`,
		`["null",{"type":"map","values":["null","double"]}]`,
		`["null",{"type":"array","items":["null",{"type":"array","items":["null","long"]}]}]`,
	}
	var cols []*complexCol
	for _, s := range schemas {
		sc, err := avro.ParseBytesWithCache([]byte(s), "", &avro.SchemaCache{})
		if err != nil {
			f.Fatal(err)
		}
		cols = append(cols, &complexCol{schema: sc})
	}
	for _, seed := range [][]byte{{0}, {2, 6, 2, 2, 0, 2, 6, 0}, {2, 2, 8, 'L', 'u', 'n', 'd', 2, 0x88, 0xd9, 2}, {2, 0xff, 0xff, 0xff, 0xff, 0x0f}, {4}, {}} {
		for i := range cols {
			f.Add(uint8(i), seed)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		cc := cols[int(which)%len(cols)]
		v, err := cc.decode(b)
		if err == nil {
			_ = fmt.Sprint(v)
		}
	})
}
