package transform

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
)

// Statistics is the part of one feature's training-dataset statistics the
// built-ins read (hsfs transformation_statistics.py
// FeatureTransformationStatistics). A number the server did not send is NaN,
// as pd.isna(None) is true in hsfs.
type Statistics struct {
	FeatureName string
	Min, Max    float64
	Mean        float64
	StdDev      float64
	// Percentiles as the server lists them (hsfs reads indices 24, 49, 74
	// as the quartiles); a null entry is NaN.
	Percentiles []float64
	// UniqueValues and Histogram come from the extendedStatistics JSON
	// string ("unique_values", "histogram").
	UniqueValues []any
	Histogram    []HistogramBin
	// HasHistogram/HasUniqueValues tell an absent list from an empty one.
	HasHistogram, HasUniqueValues bool
}

// HistogramBin is one entry of extendedStatistics.histogram.
type HistogramBin struct {
	Value any
	Count float64
}

// NoStatistics is the zero state: every number NaN, no lists.
func NoStatistics(name string) Statistics {
	n := math.NaN()
	return Statistics{FeatureName: name, Min: n, Max: n, Mean: n, StdDev: n}
}

// ParseExtended decodes a FeatureDescriptiveStatisticsDTO.extendedStatistics
// string (JSON text; hsfs json.loads it) into s.
func (s *Statistics) ParseExtended(text string) error {
	if text == "" {
		return nil
	}
	var ext struct {
		Histogram    json.RawMessage `json:"histogram"`
		UniqueValues json.RawMessage `json:"unique_values"`
	}
	if err := json.Unmarshal([]byte(text), &ext); err != nil {
		return fmt.Errorf("transform: extendedStatistics: %w", err)
	}
	if len(ext.UniqueValues) > 0 && string(ext.UniqueValues) != "null" {
		var uv []any
		if err := json.Unmarshal(ext.UniqueValues, &uv); err != nil {
			return fmt.Errorf("transform: extendedStatistics.unique_values: %w", err)
		}
		s.UniqueValues, s.HasUniqueValues = uv, true
	}
	if len(ext.Histogram) > 0 && string(ext.Histogram) != "null" {
		var hist []map[string]any
		if err := json.Unmarshal(ext.Histogram, &hist); err != nil {
			// hsfs only uses a histogram that is a list (top_k_categorical_binner).
			return nil
		}
		s.HasHistogram = true
		for _, h := range hist {
			c, _ := h["count"].(float64)
			s.Histogram = append(s.Histogram, HistogramBin{Value: h["value"], Count: c})
		}
	}
	return nil
}

// byCountDesc is hsfs's sorted(histogram, key=count, reverse=True): Python's
// sort is stable, and reverse=True keeps equal counts in their order.
func byCountDesc(h []HistogramBin) []HistogramBin {
	out := append([]HistogramBin(nil), h...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Count > out[j].Count })
	return out
}
