package region

import (
	"errors"
	"strings"
	"testing"
)

func TestParseID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ID
		ok   bool
	}{
		{"eu", "eu", true},
		{" US ", "us", true},
		{"", "", false},
		{"e u", "", false},
		{"eu\x00", "", false},
	} {
		got, err := ParseID(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseID(%q) = %q, %v", tc.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrInvalidID) {
			t.Errorf("ParseID(%q) error %v does not wrap ErrInvalidID", tc.in, err)
		}
	}
	if !ID("EU").Equal("eu") {
		t.Error("Equal must ignore case")
	}
}
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"eu", " US ", "", "e u", "x\x00", "ÉU", "eu-west-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidID) || id != "" {
				t.Fatalf("ParseID(%q) = %q, %v", s, id, err)
			}
			return
		}
		again, err := ParseID(string(id))
		if err != nil || again != id {
			t.Fatalf("ParseID is not idempotent on %q: %q, %v", id, again, err)
		}
		if !id.Equal(ID(s)) && !id.Equal(ID(strings.TrimSpace(s))) {
			t.Fatalf("%q does not equal its input %q", id, s)
		}
	})
}

func TestTopologySnapshot(t *testing.T) {
	top := Topology{Local: "eu", Regions: []Region{
		{ID: "eu", Servers: []Server{{Name: "a", State: Ejected}, {Name: "b", State: Probation}}},
		{ID: "us", Servers: []Server{{Name: "c", State: Ejected}}},
	}}
	if r, ok := top.Region("eu"); !ok || !r.Available() {
		t.Fatalf("eu: %+v %v; one server on probation takes traffic", r, ok)
	}
	if r, ok := top.Region("us"); !ok || r.Available() {
		t.Fatalf("us: %+v %v; its only server is ejected", r, ok)
	}
	if _, ok := top.Region("ap"); ok {
		t.Fatal("found a region that is not there")
	}
}
