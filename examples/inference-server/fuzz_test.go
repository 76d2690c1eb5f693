package main

import (
	"bytes"
	"math"
	"testing"
)

// The /predict body, the model file and the config file come from outside;
// none of them may panic the server, and what they accept must be usable.

func FuzzDecodeEntity(f *testing.F) {
	for _, s := range []string{
		`{"entity": {"cc_num": 100001}}`,
		`{"entity": {"cc_num": 9007199254740993, "tier": "gold"}}`,
		`{"entity": {}}`, `{"entity": null}`, `{}`, `[]`, `null`, `{"entity": {"a": 1e400}}`,
		`{"entity": {"a": 1}, "extra": 2}`, `<html>`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := decodeEntity(bytes.NewReader(body))
		if err != nil {
			if e != nil {
				t.Fatalf("error %v with a non-nil entity", err)
			}
			return
		}
		if len(e) == 0 {
			t.Fatal("accepted an empty entity")
		}
	})
}

func FuzzParseModel(f *testing.F) {
	for _, s := range []string{
		`{"name": "m", "bias": -1.5, "weights": {"amount": 0.01}}`,
		`{"name": "m", "weights": {}}`, `{"weights": null}`, `{"bias": "x"}`, `{}`, ``, `{"nope": 1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseModel(b)
		if err != nil {
			return
		}
		if len(m.Weights) == 0 {
			t.Fatal("accepted a model without weights")
		}
		feats := map[string]any{}
		for _, name := range m.Features() {
			feats[name] = 1.0
		}
		if s, err := m.Score(feats); err == nil && (math.IsNaN(s) || s < 0 || s > 1) {
			// A logistic score is a probability; NaN only from NaN
			// weights, which JSON cannot carry.
			t.Fatalf("score %v out of [0, 1]", s)
		}
	})
}
