package featurestore

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/hamba/avro/v2"
	"golang.org/x/sync/errgroup"

	"github.com/tandemfs/tandem/metadata"
)

// Complex features (array, map, struct) are stored in the online store as
// Avro binary of their column's schema in the feature group's Avro schema;
// hsfs decodes them with that schema (vector_server.py
// _build_complex_feature_decoders, with fastavro or avro). Tandem does the
// same through github.com/hamba/avro/v2: a struct becomes a
// map[string]any, an array a []any, a map a map[string]any, an Avro long
// an int64, an int an int, a double a float64, bytes a []byte. A nullable
// value (a union with null) is the value or nil.

// avroAPI decodes complex values with bounds, since the bytes come from
// the online store: an array block may claim at most 1<<16 elements (an
// element of a Hopsworks schema, always a union with null, takes at least
// one byte, and a RonDB row is far smaller), a string or bytes value at
// most 1 MiB. Without the first bound a few bytes claiming 2^31 elements
// make hamba allocate tens of GiB (found by FuzzComplexDecode).
var avroAPI = avro.Config{MaxSliceAllocSize: 1 << 16, MaxByteSliceSize: 1 << 20}.Freeze()

// complexCol is how one complex feature is decoded.
type complexCol struct {
	schema avro.Schema
}

// decode turns the stored Avro binary into a Go value. A NULL stays nil.
func (cc *complexCol) decode(v any) (any, error) {
	var b []byte
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []byte:
		b = x
	case string:
		b = []byte(x)
	default:
		return nil, fmt.Errorf("the online store returned %T, not Avro bytes", v)
	}
	schema := cc.schema
	if u, ok := schema.(*avro.UnionSchema); ok {
		// A column is a union (of null and its type): read the branch
		// index (a zigzag varint, as binary.Varint reads it) and decode
		// the value with that branch, so that the value is not wrapped
		// in a {"type": value} map, which hamba does for some branches.
		idx, n := binary.Varint(b)
		if n <= 0 || idx < 0 || idx >= int64(len(u.Types())) {
			return nil, fmt.Errorf("avro: bad union branch index")
		}
		schema, b = u.Types()[idx], b[n:]
		if schema.Type() == avro.Null {
			return nil, nil
		}
	}
	var out any
	if err := avroAPI.Unmarshal(schema, b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// complexFeature is a complex feature of the plan that needs its group's
// schema: where its decoder goes and which schema field it reads.
type complexFeature struct {
	group, out int    // p.groups[group].outs[out]
	name       string // the feature's name in the view, for errors
	fgName     string
	fgVersion  int
	column     string
}

// loadComplex fetches the Avro schema of every feature group with a
// complex feature in the plan (one request per group, concurrently) and
// gives each such feature its decoder. A schema that lacks the column, or
// that does not parse, fails the load with ErrInvalidPlan.
func (c *Client) loadComplex(ctx context.Context, plans ...*plan) error {
	type fgKey struct {
		name    string
		version int
	}
	schemas := map[fgKey]*metadata.AvroSchema{}
	for _, p := range plans {
		for _, cf := range p.complexFeatures() {
			schemas[fgKey{cf.fgName, cf.fgVersion}] = nil
		}
	}
	if len(schemas) == 0 {
		return nil
	}
	keys := make([]fgKey, 0, len(schemas))
	for k := range schemas {
		keys = append(keys, k)
	}
	got := make([]*metadata.AvroSchema, len(keys))
	eg, ectx := errgroup.WithContext(ctx)
	for i, k := range keys {
		eg.Go(func() (err error) {
			got[i], err = c.md.AvroSchema(ectx, k.name, k.version)
			if err != nil {
				return fmt.Errorf("featurestore: the Avro schema of feature group %s v%d: %w", k.name, k.version, err)
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	for i, k := range keys {
		schemas[k] = got[i]
	}
	for _, p := range plans {
		if err := p.setDecoders(func(cf complexFeature) *metadata.AvroSchema { return schemas[fgKey{cf.fgName, cf.fgVersion}] }); err != nil {
			return err
		}
	}
	return nil
}

func (p *plan) complexFeatures() []complexFeature {
	if p == nil {
		return nil
	}
	return p.complex
}

// setDecoders gives each complex feature of p its decoder, from the schema
// of its group.
func (p *plan) setDecoders(schemaOf func(complexFeature) *metadata.AvroSchema) error {
	if p == nil {
		return nil
	}
	for _, cf := range p.complex {
		s := schemaOf(cf)
		field, ok := s.Field(cf.column)
		if !ok {
			return fmt.Errorf("%w: feature view %s v%d: the Avro schema of feature group %s has no field %s (feature %s)",
				ErrInvalidPlan, p.name, p.version, cf.fgName, cf.column, cf.name)
		}
		parsed, err := avro.ParseBytesWithCache(field, "", &avro.SchemaCache{})
		if err != nil {
			return fmt.Errorf("%w: feature view %s v%d: feature %s: its Avro schema does not parse: %v",
				ErrInvalidPlan, p.name, p.version, cf.name, err)
		}
		p.groups[cf.group].outs[cf.out].complex = &complexCol{schema: parsed}
	}
	return nil
}

// value is the vector value of result value x for out column o: x itself,
// or for a complex feature x decoded from Avro.
func (p *plan) value(o *outColumn, x any) (any, error) {
	if o.complex == nil {
		return x, nil
	}
	v, err := o.complex.decode(x)
	if err != nil {
		return nil, fmt.Errorf("featurestore: feature view %s v%d: feature %s: decoding its Avro value: %w", p.name, p.version, p.names[o.pos], err)
	}
	return v, nil
}

// deepCopy copies the maps and slices of a decoded complex value, so that
// a vector from the cache shares nothing a caller could change.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	case []byte:
		return append([]byte(nil), x...)
	}
	return v
}
