package metadata

import (
	"encoding/json"
	"fmt"
)

// The decoders below are the only place outside JSON enters the package;
// they are fuzzed (fuzz_test.go). They check what Tandem relies on and
// leave the rest to the caller.

func decodeProject(body []byte) (*Project, error) {
	var p Project
	if err := unmarshal(body, &p); err != nil {
		return nil, err
	}
	if p.ID <= 0 {
		return nil, fmt.Errorf("%w: project has no projectId", ErrMalformed)
	}
	return &p, nil
}

func decodeFeatureStore(body []byte) (*FeatureStore, error) {
	var fs FeatureStore
	if err := unmarshal(body, &fs); err != nil {
		return nil, err
	}
	if fs.ID <= 0 {
		return nil, fmt.Errorf("%w: feature store has no featurestoreId", ErrMalformed)
	}
	return &fs, nil
}

// DecodeFeatureView decodes a FeatureViewDTO body. It checks that the view
// has a name and a version and that every feature and serving key has a
// name; everything else is passed through as sent.
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
// endpoint ({"items":[...],"count":n}). Every statement must have SQL and
// named parameters.
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

// DecodeBatchQuery decodes an FsQueryDTO body. It must carry hqsPayload and
// hqsPayloadSignature, or the offline store cannot use it.
func DecodeBatchQuery(body []byte) (*BatchQuery, error) {
	var q BatchQuery
	if err := unmarshal(body, &q); err != nil {
		return nil, err
	}
	if q.HQSPayload == "" || q.HQSPayloadSignature == "" {
		return nil, fmt.Errorf("%w: batch query without hqsPayload or hqsPayloadSignature", ErrMalformed)
	}
	return &q, nil
}

// DecodeError decodes an error answer of Hopsworks REST (HTTP status and
// body) into an *APIError without Region and Op.
func DecodeError(status int, body []byte) *APIError { return decodeError(status, body) }

func unmarshal(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}
