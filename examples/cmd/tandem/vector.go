package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/tandemfs/tandem/featurestore"
	"github.com/tandemfs/tandem/region"
)

func runVector(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("vector", "ENTRY", e)
	pin := fs.String("region", "", "read from this region only (featurestore.Pin), no cross-region hedge")
	noHedge := fs.Bool("no-hedge", false, "send no hedge (featurestore.NoHedge)")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	if err := parse(fs, args); err != nil {
		return err
	}
	entry, err := parseEntry(fs.Args())
	if err != nil {
		return usageError{err}
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	s, err := c.open(ctx, e)
	if err != nil {
		return err
	}
	defer s.Close()

	var opts []featurestore.VectorOption
	if *pin != "" {
		id, err := region.ParseID(*pin)
		if err != nil {
			return usagef("-region: %v", err)
		}
		opts = append(opts, featurestore.Pin(id))
	}
	if *noHedge {
		opts = append(opts, featurestore.NoHedge())
	}
	start := time.Now()
	v, err := s.fv.GetFeatureVector(ctx, entry, opts...)
	latency := time.Since(start)
	if err != nil {
		return err
	}
	if *asJSON {
		return printVectorJSON(e.stdout, s, entry, v, latency)
	}
	printVector(e.stdout, s, entry, v, latency)
	return nil
}

func printVector(w io.Writer, s *session, entry map[string]any, v *featurestore.Vector, latency time.Duration) {
	fmt.Fprintf(w, "%s v%d  %s\n", s.fv.Name(), s.fv.Version(), entryString(entry))
	fmt.Fprintf(w, "region %s  hedged %s  latency %s  (plan loaded in %s)\n", v.Region, yesNo(v.Hedged), ms(latency), ms(s.planLoad))
	if !v.Found() {
		fmt.Fprintln(w, "no feature group has a row for this entity")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, n := range v.Names {
		fmt.Fprintf(tw, "  %s\t%s\n", n, value(v.Values[i]))
	}
	_ = tw.Flush()
	fmt.Fprint(w, "groups:")
	for i, g := range v.Groups {
		sep := ","
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(w, "%s %s_%d %s", sep, g.FeatureGroup, g.Version, g.Status)
		if g.Region != "" {
			fmt.Fprintf(w, " (%s)", g.Region)
		}
	}
	fmt.Fprintln(w)
	if v.MixedRegions {
		fmt.Fprintln(w, "note: the feature groups were served by different regions")
	}
}

type vectorJSON struct {
	View      string         `json:"feature_view"`
	Version   int            `json:"version"`
	Entry     map[string]any `json:"entry"`
	Found     bool           `json:"found"`
	Features  map[string]any `json:"features"`
	Names     []string       `json:"names"`
	Region    region.ID      `json:"region"`
	Hedged    bool           `json:"hedged"`
	Mixed     bool           `json:"mixed_regions,omitempty"`
	LatencyMS float64        `json:"latency_ms"`
	Groups    []groupJSON    `json:"groups"`
}

type groupJSON struct {
	Name    string    `json:"feature_group"`
	Version int       `json:"version"`
	Status  string    `json:"status"`
	Region  region.ID `json:"region,omitempty"`
}

func printVectorJSON(w io.Writer, s *session, entry map[string]any, v *featurestore.Vector, latency time.Duration) error {
	out := vectorJSON{
		View: s.fv.Name(), Version: s.fv.Version(), Entry: entry, Found: v.Found(), Features: v.Map(),
		Names: v.Names, Region: v.Region, Hedged: v.Hedged, Mixed: v.MixedRegions,
		LatencyMS: float64(latency.Microseconds()) / 1000,
	}
	for _, g := range v.Groups {
		out.Groups = append(out.Groups, groupJSON{Name: g.FeatureGroup, Version: g.Version, Status: g.Status.String(), Region: g.Region})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// ms renders d in milliseconds with two decimals.
func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

// value renders a feature value; nil (no row, or NULL) is "NULL".
func value(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return fmt.Sprintf("%q", x)
	case string:
		return fmt.Sprintf("%q", x)
	case time.Time:
		return x.Format(time.RFC3339Nano)
	default:
		return fmt.Sprint(x)
	}
}
