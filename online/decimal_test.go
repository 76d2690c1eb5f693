package online

import (
	"encoding/json"
	"math/big"
	"testing"
	"time"
)

// TestDecimalExact: a DECIMAL(38,18) column comes back digit for digit,
// where a float64 would keep about 16 of its 38 digits.
func TestDecimalExact(t *testing.T) {
	c := startCluster(t, 1)
	const big1 = "12345678901234567890.123456789012345678"
	if err := c.servers[0].Exec(ctxT(t, 5*time.Second),
		"CREATE TABLE tandem.dec (id BIGINT PRIMARY KEY, d DECIMAL(38,18), n DECIMAL(38,18) NULL)",
		"INSERT INTO tandem.dec VALUES (1, '"+big1+"', NULL), (2, '-0.000000000000000001', NULL), (3, '7', NULL)"); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, c.config("eu", "eu"))
	st := mustPrepare(t, s, "SELECT `fg0`.`d` AS `d`, `fg0`.`n` AS `n` FROM `tandem`.`dec` AS `fg0` WHERE `fg0`.`id` = ?")
	for _, tc := range []struct {
		id   int
		want Decimal
	}{{1, big1}, {2, "-0.000000000000000001"}, {3, "7.000000000000000000"}} {
		res, err := s.Query(ctxT(t, 5*time.Second), st, []any{tc.id})
		if err != nil {
			t.Fatal(err)
		}
		row := res.Rows[0].Values[0]
		if row[0] != tc.want {
			t.Errorf("id %d: %#v (%T), want Decimal %q", tc.id, row[0], row[0], tc.want)
		}
		if row[1] != nil {
			t.Errorf("id %d: NULL decimal is %#v", tc.id, row[1])
		}
	}
	d := Decimal(big1)
	want, _ := new(big.Rat).SetString(big1)
	if d.Rat().Cmp(want) != 0 {
		t.Fatalf("Rat = %v", d.Rat())
	}
	if f, ok := d.Float64(); !ok || f != 12345678901234567890.123456789012345678 {
		t.Fatalf("Float64 = %v, %v", f, ok)
	}
}

func TestDecimalJSON(t *testing.T) {
	b, err := json.Marshal(map[string]any{"d": Decimal("-1.500")})
	if err != nil || string(b) != `{"d":-1.500}` {
		t.Fatalf("marshal: %s, %v", b, err)
	}
	for _, bad := range []Decimal{"1e5; DROP", "1/3", "0x10", "", "-"} {
		if _, err := json.Marshal(bad); err == nil {
			t.Fatalf("malformed Decimal %q marshalled", bad)
		}
	}
	var back struct{ D Decimal }
	for _, in := range []string{`{"D":-1.500}`, `{"D":"-1.500"}`} {
		if err := json.Unmarshal([]byte(in), &back); err != nil || back.D != "-1.500" {
			t.Fatalf("unmarshal %s: %q, %v", in, back.D, err)
		}
	}
	if err := json.Unmarshal([]byte(`{"D":"abc"}`), &back); err == nil {
		t.Fatal("a non-number unmarshalled")
	}
	if Decimal("x").Rat() != nil {
		t.Fatal("Rat of a non-number")
	}
	if _, ok := Decimal("").Float64(); ok {
		t.Fatal("Float64 of the zero value")
	}
}

func FuzzDecimalJSON(f *testing.F) {
	for _, s := range []string{`1`, `-1.500`, `"2.5"`, `1e400`, `"1/3"`, `null`, `"x"`, `12345678901234567890.123456789012345678`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var d Decimal
		if err := json.Unmarshal([]byte(in), &d); err != nil {
			return
		}
		if d == "" {
			return // JSON null leaves it unset
		}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("%q unmarshalled to %q, which does not marshal: %v", in, d, err)
		}
		if d.Rat() == nil {
			t.Fatalf("%q is a JSON number without an exact value", d)
		}
		var back Decimal
		if err := json.Unmarshal(b, &back); err != nil || back != d {
			t.Fatalf("round trip of %q: %q, %v", d, back, err)
		}
	})
}
