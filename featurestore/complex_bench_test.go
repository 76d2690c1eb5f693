package featurestore

import (
	"testing"

	"github.com/hamba/avro/v2"
)

// BenchmarkComplexDecode is the cost a complex feature adds to a vector:
// one struct of a string and an int, and one array of 8 nullable ints,
// decoded from Avro binary (go test -run XXX -bench ComplexDecode).
func BenchmarkComplexDecode(b *testing.B) {
	for _, tc := range []struct {
		name, schema string
		value        []byte
	}{
		{"struct", `["null",{"type":"record","name":"r1","namespace":"fs.addr","fields":[{"name":"city","type":["null","string"]},{"name":"zip","type":["null","int"]}]}]`,
			[]byte{2, 2, 8, 'L', 'u', 'n', 'd', 2, 0x88, 0xd9, 2}},
		{"array8", `["null",{"type":"array","items":["null","int"]}]`,
			[]byte{2, 16, 2, 2, 2, 4, 2, 6, 2, 8, 2, 10, 2, 12, 2, 14, 2, 16, 0}},
	} {
		s, err := avro.ParseBytesWithCache([]byte(tc.schema), "", &avro.SchemaCache{})
		if err != nil {
			b.Fatal(err)
		}
		cc := &complexCol{schema: s}
		if _, err := cc.decode(tc.value); err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cc.decode(tc.value); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
