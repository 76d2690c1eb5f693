package metadata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The decoders below are where outside JSON enters the package; they are
// fuzzed (fuzz_test.go).
//
// They are as tolerant as the real clients: hsfs reads the DTOs with
// humps and dict.get, so a field it does not use never fails a read, and
// the server's Jackson coerces scalars ("1" for 1, "true" for true). So a
// field Tandem does not use may hold anything, and an integer or boolean
// may come as a string. What Tandem needs (names, versions, ids, statement
// SQL and parameters) is validated strictly: a missing or unusable value
// fails the decode with ErrMalformed.

func decodeProject(body []byte) (*Project, error) {
	o, err := parseObject(body)
	if err != nil {
		return nil, err
	}
	p := &Project{Name: o.str("projectName")}
	id, err := o.int64("projectId")
	if err != nil {
		return nil, err
	}
	if id <= 0 {
		return nil, fmt.Errorf("%w: project has no projectId", ErrMalformed)
	}
	p.ID = id
	return p, nil
}

func decodeFeatureStore(body []byte) (*FeatureStore, error) {
	o, err := parseObject(body)
	if err != nil {
		return nil, err
	}
	id, err := o.int64("featurestoreId")
	if err != nil {
		return nil, err
	}
	if id <= 0 {
		return nil, fmt.Errorf("%w: feature store has no featurestoreId", ErrMalformed)
	}
	pid, _ := o.int64("projectId")
	online, _ := o.bool("onlineEnabled")
	return &FeatureStore{
		ID: id, Name: o.str("featurestoreName"), ProjectID: pid, ProjectName: o.str("projectName"),
		OnlineFeaturestoreName: o.str("onlineFeaturestoreName"), OfflineFeaturestoreName: o.str("offlineFeaturestoreName"),
		OnlineEnabled: online,
	}, nil
}

// DecodeFeatureView decodes a FeatureViewDTO body. It checks that the view
// has a name and a version and that every feature and serving key has a
// name; fields Tandem does not use are ignored whatever they hold.
func DecodeFeatureView(body []byte) (*FeatureView, error) {
	var fv FeatureView
	if err := unmarshal(body, &fv); err != nil {
		return nil, err
	}
	if fv.Name == "" || fv.Version <= 0 {
		return nil, fmt.Errorf("%w: feature view without name or version", ErrMalformed)
	}
	for i, f := range fv.Features {
		if f.Name == "" {
			return nil, fmt.Errorf("%w: feature view %s: feature %d has no name", ErrMalformed, fv.Name, i)
		}
	}
	for i, k := range fv.ServingKeys {
		if k.FeatureName == "" {
			return nil, fmt.Errorf("%w: feature view %s: serving key %d has no featureName", ErrMalformed, fv.Name, i)
		}
	}
	return &fv, nil
}

// DecodePreparedStatements decodes the body of the preparedstatement
// endpoint (a ServingPreparedStatementDTO: {"items":[...],"count":n}).
// Every statement must have SQL and named parameters with usable indexes.
func DecodePreparedStatements(body []byte) ([]PreparedStatement, error) {
	var l preparedStatementList
	if err := unmarshal(body, &l); err != nil {
		return nil, err
	}
	for i, ps := range l.Items {
		if ps.QueryOnline == "" {
			return nil, fmt.Errorf("%w: prepared statement %d has no queryOnline", ErrMalformed, i)
		}
		if len(ps.Parameters) == 0 {
			return nil, fmt.Errorf("%w: prepared statement %d has no preparedStatementParameters", ErrMalformed, i)
		}
		for _, p := range ps.Parameters {
			if p.Name == "" {
				return nil, fmt.Errorf("%w: prepared statement %d has a parameter without a name", ErrMalformed, i)
			}
		}
	}
	if l.Items == nil {
		l.Items = []PreparedStatement{}
	}
	return l.Items, nil
}

// DecodeQuery checks that a body is the JSON object of a QueryDTO (the
// first step of a batch query) and returns it compacted, unchanged
// otherwise: it goes back to the server as is.
func DecodeQuery(body []byte) (json.RawMessage, error) {
	o, err := parseObject(body)
	if err != nil {
		return nil, err
	}
	if lfg, ok := o["leftFeatureGroup"]; !ok || isNull(lfg) {
		return nil, fmt.Errorf("%w: batch query without leftFeatureGroup", ErrMalformed)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, body); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return b.Bytes(), nil
}

// DecodeBatchQuery decodes an FsQueryDTO body. It must carry hqsPayload,
// or the offline store cannot use it. hqsPayloadSignature may be absent,
// as hsfs allows (it then sends no hopsworks-signature header).
func DecodeBatchQuery(body []byte) (*BatchQuery, error) {
	o, err := parseObject(body)
	if err != nil {
		return nil, err
	}
	q := &BatchQuery{
		Query: o.str("query"), QueryOnline: o.str("queryOnline"), PitQuery: o.str("pitQuery"),
		HQSPayload: o.str("hqsPayload"), HQSPayloadSignature: o.str("hqsPayloadSignature"),
		OnDemandFGs: o.raw("onDemandFeatureGroups"), HudiCachedFGs: o.raw("hudiCachedFeatureGroups"),
	}
	if q.HQSPayload == "" {
		return nil, fmt.Errorf("%w: batch query without hqsPayload (was it asked with hqs=true?)", ErrMalformed)
	}
	return q, nil
}

// DecodeAvroSchema decodes a SubjectDTO body ({"id","subject","version",
// "schema"}): schema must be an Avro record schema with named fields.
func DecodeAvroSchema(body []byte) (*AvroSchema, error) {
	o, err := parseObject(body)
	if err != nil {
		return nil, err
	}
	v, _ := o.int64("version")
	s := &AvroSchema{Subject: o.str("subject"), Version: int(v), Schema: o.str("schema")}
	var rec struct {
		Type   string `json:"type"`
		Fields []struct {
			Name string          `json:"name"`
			Type json.RawMessage `json:"type"`
		} `json:"fields"`
	}
	if s.Schema == "" || json.Unmarshal([]byte(s.Schema), &rec) != nil || rec.Type != "record" {
		return nil, fmt.Errorf("%w: subject %q: schema is not an Avro record", ErrMalformed, s.Subject)
	}
	s.fields = make(map[string]json.RawMessage, len(rec.Fields))
	for _, f := range rec.Fields {
		if f.Name == "" || len(f.Type) == 0 {
			return nil, fmt.Errorf("%w: subject %q: a field without name or type", ErrMalformed, s.Subject)
		}
		s.fields[f.Name] = f.Type
	}
	return s, nil
}

// DecodeError decodes an error answer of Hopsworks REST (HTTP status and
// body) into an *APIError without Region and Op.
func DecodeError(status int, body []byte) *APIError { return decodeError(status, body) }

func unmarshal(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		if errors.Is(err, ErrMalformed) {
			return err
		}
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

// malformed is what the UnmarshalJSON methods return for a value Tandem
// needs and cannot use.
type malformed struct{ msg string }

func (m malformed) Error() string { return ErrMalformed.Error() + ": " + m.msg }
func (m malformed) Unwrap() error { return ErrMalformed }

// object is a JSON object whose fields are read leniently.
type object map[string]json.RawMessage

// parseObject parses an object; null gives an empty object.
func parseObject(b []byte) (object, error) {
	var o object
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object: %v", ErrMalformed, err)
	}
	return o, nil
}

func isNull(b json.RawMessage) bool { return len(b) == 0 || string(b) == "null" }

// str returns a string field; a number is taken as its text, anything
// else as "".
func (o object) str(k string) string {
	b, ok := o[k]
	if !ok || isNull(b) {
		return ""
	}
	var s string
	if json.Unmarshal(b, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(b, &n) == nil {
		return n.String()
	}
	return ""
}

// int64 returns an integer field, given as a number or, as Jackson
// coerces it, a string of one. Absent or null is 0; anything else fails.
func (o object) int64(k string) (int64, error) {
	b, ok := o[k]
	if !ok || isNull(b) {
		return 0, nil
	}
	var s string
	if json.Unmarshal(b, &s) == nil {
		b = []byte(strings.TrimSpace(s))
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, malformed{fmt.Sprintf("%q is not an integer: %.40s", k, o[k])}
	}
	return n, nil
}

// int is int64 for the fields that are a Java Integer.
func (o object) int(k string) (int, error) {
	n, err := o.int64(k)
	if err == nil && (n > 1<<31-1 || n < -1<<31) {
		err = malformed{fmt.Sprintf("%q is out of range: %d", k, n)}
	}
	return int(n), err
}

// bool returns a boolean field, given as true/false or as the strings
// "true"/"false" (any case). Absent, null or anything else is false;
// present tells whether the field was given with a usable value.
func (o object) bool(k string) (v, present bool) {
	b, ok := o[k]
	if !ok || isNull(b) {
		return false, false
	}
	if json.Unmarshal(b, &v) == nil {
		return v, true
	}
	var s string
	if json.Unmarshal(b, &s) == nil {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

// raw returns a field as raw JSON, nil when absent or null.
func (o object) raw(k string) json.RawMessage {
	b, ok := o[k]
	if !ok || isNull(b) {
		return nil
	}
	return append(json.RawMessage(nil), b...)
}

// list decodes an array field element by element with dec; absent, null
// or a non-array is an empty list. An element that fails fails the list.
func list[T any](o object, k string, dec func(json.RawMessage) (T, error)) ([]T, error) {
	b, ok := o[k]
	if !ok || isNull(b) {
		return nil, nil
	}
	var items []json.RawMessage
	if json.Unmarshal(b, &items) != nil {
		return nil, nil
	}
	out := make([]T, 0, len(items))
	for _, it := range items {
		v, err := dec(it)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// lenient decodes into v and ignores a value that does not fit: for the
// parts Tandem passes through without relying on them.
func lenient[T any](b json.RawMessage) (*T, error) {
	if isNull(b) {
		return nil, nil
	}
	v := new(T)
	if json.Unmarshal(b, v) != nil {
		return nil, nil
	}
	return v, nil
}

// UnmarshalJSON decodes a FeatureViewDTO leniently (see decode.go).
func (fv *FeatureView) UnmarshalJSON(b []byte) error {
	o, err := parseObject(b)
	if err != nil {
		return malformed{"feature view is not a JSON object"}
	}
	*fv = FeatureView{Name: o.str("name"), Description: o.str("description"), FeaturestoreName: o.str("featurestoreName")}
	// The id only recognises a view this Client created; an odd one is
	// left at 0 rather than failing the view.
	fv.ID, _ = o.int64("id")
	if fv.Version, err = o.int("version"); err != nil {
		return err
	}
	fv.FeaturestoreID, _ = o.int64("featurestoreId")
	if fv.Query, err = lenient[Query](o["query"]); err != nil {
		return err
	}
	if fv.Features, err = list(o, "features", decodeInto[Feature]); err != nil {
		return err
	}
	if fv.ServingKeys, err = list(o, "servingKeys", decodeInto[ServingKey]); err != nil {
		return err
	}
	return decodeViewTransformations(o, fv) // transformations.go
}

func decodeInto[T any](b json.RawMessage) (T, error) {
	var v T
	err := json.Unmarshal(b, &v)
	return v, err
}

// UnmarshalJSON decodes a TrainingDatasetFeatureDTO leniently.
func (f *Feature) UnmarshalJSON(b []byte) error {
	o, err := parseObject(b)
	if err != nil {
		return malformed{"feature is not a JSON object"}
	}
	*f = Feature{Name: o.str("name"), Type: o.str("type"), FeatureGroupFeatureName: o.str("featureGroupFeatureName")}
	if f.Index, err = o.int("index"); err != nil {
		return err
	}
	f.Label, _ = o.bool("label")
	f.InferenceHelperColumn, _ = o.bool("inferenceHelperColumn")
	f.TrainingHelperColumn, _ = o.bool("trainingHelperColumn")
	if fg, ok := o["featuregroup"]; ok && !isNull(fg) {
		f.FeatureGroup = new(FeatureGroup)
		if err := json.Unmarshal(fg, f.FeatureGroup); err != nil {
			return err
		}
	}
	f.TransformationFunction, err = decodeFeatureTransformation(o) // transformations.go
	return err
}

// UnmarshalJSON decodes a FeaturegroupDTO leniently.
func (g *FeatureGroup) UnmarshalJSON(b []byte) error {
	o, err := parseObject(b)
	if err != nil {
		return malformed{"feature group is not a JSON object"}
	}
	*g = FeatureGroup{Type: o.str("type"), Name: o.str("name")}
	if g.ID, err = o.int64("id"); err != nil {
		return err
	}
	if g.Version, err = o.int("version"); err != nil {
		return err
	}
	g.FeaturestoreID, _ = o.int64("featurestoreId")
	g.OnlineEnabled, _ = o.bool("onlineEnabled")
	if g.Features, err = list(o, "features", decodeInto[FeatureGroupFeature]); err != nil {
		return err
	}
	if e, ok := o["embeddingIndex"]; ok && !isNull(e) {
		g.EmbeddingIndex = new(EmbeddingIndex)
		eo, err := parseObject(e)
		if err != nil {
			// An embedding index we cannot read is still an embedding
			// group: reading it from the online store would be wrong.
			return nil
		}
		g.EmbeddingIndex.IndexName, g.EmbeddingIndex.ColPrefix = eo.str("indexName"), eo.str("colPrefix")
		g.EmbeddingIndex.Features, _ = list(eo, "features", func(b json.RawMessage) (EmbeddingFeature, error) {
			fo, _ := parseObject(b)
			d, _ := fo.int("dimension")
			return EmbeddingFeature{Name: fo.str("name"), Dimension: d, SimilarityFunctionType: fo.str("similarityFunctionType")}, nil
		})
	}
	return nil
}

// UnmarshalJSON decodes a FeatureGroupFeatureDTO leniently.
func (f *FeatureGroupFeature) UnmarshalJSON(b []byte) error {
	o, err := parseObject(b)
	if err != nil {
		return malformed{"feature group feature is not a JSON object"}
	}
	*f = FeatureGroupFeature{Name: o.str("name"), Type: o.str("type"), OnlineType: o.str("onlineType")}
	f.Primary, _ = o.bool("primary")
	f.Partition, _ = o.bool("partition")
	f.FeatureGroupID, _ = o.int64("featureGroupId")
	return nil
}

// UnmarshalJSON decodes a ServingKeyDTO leniently. An absent "required"
// means required, as in hsfs serving_key.py.
func (k *ServingKey) UnmarshalJSON(b []byte) error {
	o, err := parseObject(b)
	if err != nil {
		return malformed{"serving key is not a JSON object"}
	}
	*k = ServingKey{FeatureName: o.str("featureName"), Prefix: o.str("prefix"), JoinOn: o.str("joinOn")}
	req, present := o.bool("required")
	_, given := o["required"]
	k.Required = req || !given && !present
	if k.JoinIndex, err = o.int("joinIndex"); err != nil {
		return err
	}
	if fg, ok := o["featureGroup"]; ok && !isNull(fg) {
		k.FeatureGroup = new(FeatureGroup)
		if err := json.Unmarshal(fg, k.FeatureGroup); err != nil {
			return err
		}
	}
	return nil
}

// UnmarshalJSON decodes a ServingPreparedStatementDTO item leniently.
func (ps *PreparedStatement) UnmarshalJSON(b []byte) error {
	o, err := parseObject(b)
	if err != nil {
		return malformed{"prepared statement is not a JSON object"}
	}
	*ps = PreparedStatement{QueryOnline: o.str("queryOnline"), Prefix: o.str("prefix")}
	if ps.FeatureGroupID, err = o.int64("featureGroupId"); err != nil {
		return err
	}
	if ps.Index, err = o.int("preparedStatementIndex"); err != nil {
		return err
	}
	ps.Parameters, err = list(o, "preparedStatementParameters", decodeInto[PreparedStatementParameter])
	return err
}

// UnmarshalJSON decodes a PreparedStatementParameterDTO. Its index is a
// Java Integer, which Jackson also reads from a string ("1"); hsfs only
// sorts by it. A parameter without a usable index fails: Tandem binds by
// it.
func (p *PreparedStatementParameter) UnmarshalJSON(b []byte) error {
	o, err := parseObject(b)
	if err != nil {
		return malformed{"statement parameter is not a JSON object"}
	}
	p.Name = o.str("name")
	if _, ok := o["index"]; !ok {
		return malformed{fmt.Sprintf("statement parameter %q has no index", p.Name)}
	}
	p.Index, err = o.int("index")
	if err == nil && p.Index < 1 {
		err = malformed{fmt.Sprintf("statement parameter %q has index %d, want >= 1", p.Name, p.Index)}
	}
	return err
}

// UnmarshalJSON decodes the statement list envelope leniently.
func (l *preparedStatementList) UnmarshalJSON(b []byte) error {
	o, err := parseObject(b)
	if err != nil {
		return malformed{"prepared statements are not a JSON object"}
	}
	l.Items, err = list(o, "items", decodeInto[PreparedStatement])
	if err != nil {
		return err
	}
	n, _ := o.int("count")
	l.Count = n
	return nil
}
