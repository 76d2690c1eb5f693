package main

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// defaultModel is the model served when -model is not given; it fits the
// sandbox's demo feature view.
//
//go:embed model.json
var defaultModel []byte

// Model is a logistic regression: score = sigmoid(Bias + Σ Weights[f]·x_f)
// over numeric features of the feature vector. A feature whose value is
// missing (its feature group has no row for the entity) contributes
// nothing, as if imputed with 0.
type Model struct {
	Name        string             `json:"name"`
	Description string             `json:"description,omitempty"`
	Bias        float64            `json:"bias"`
	Weights     map[string]float64 `json:"weights"`
}

// ParseModel decodes a model from JSON, strictly: unknown fields are an
// error, and it needs at least one weight.
func ParseModel(b []byte) (*Model, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Model
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if len(m.Weights) == 0 {
		return nil, errors.New("model: no weights")
	}
	return &m, nil
}

// Features returns the features the model reads, sorted.
func (m *Model) Features() []string {
	out := make([]string, 0, len(m.Weights))
	for f := range m.Weights {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// Check fails unless every feature the model reads is in features (the
// feature view's), so a model that does not fit the view is caught at
// start, not on the first request.
func (m *Model) Check(features []string) error {
	var missing []string
	for _, f := range m.Features() {
		if !slices.Contains(features, f) {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("model %s reads %v, which the feature view does not have (it has %v)", m.Name, missing, features)
	}
	return nil
}

// Score applies the model to a vector's features.
func (m *Model) Score(features map[string]any) (float64, error) {
	z := m.Bias
	for _, f := range m.Features() {
		x, err := number(features[f])
		if err != nil {
			return 0, fmt.Errorf("feature %s: %w", f, err)
		}
		z += m.Weights[f] * x
	}
	return 1 / (1 + math.Exp(-z)), nil
}

// number converts a feature value to float64; nil (missing) is 0.
func number(v any) (float64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case int64:
		return float64(x), nil
	case float64:
		return x, nil
	case int:
		return float64(x), nil
	case int32:
		return float64(x), nil
	case float32:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	}
	return 0, fmt.Errorf("value %v (%T) is not numeric", v, v)
}
