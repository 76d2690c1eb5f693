package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tandemfs/tandem/examples/tandemtest"
	"github.com/tandemfs/tandem/featurestore"
	"github.com/tandemfs/tandem/region"
)

// errDiffer: diff -fail-on-diff found differences (exit status 1).
var errDiffer = errors.New("the regions differ")

type diffFlags struct {
	sample     int
	entries    string
	batch      int
	ignore     string
	ignoreSet  bool
	failOnDiff bool
	show       int
	seed       uint64
	progress   time.Duration
}

func runDiff(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("diff", "[ENTRY...]", e)
	var f diffFlags
	fs.IntVar(&f.sample, "sample", 0, "compare N entities, read as batches: drawn at random from -entries, or from the sandbox's rows (default: the ENTRY arguments, one by one)")
	fs.StringVar(&f.entries, "entries", "", "file of entries, one per line (JSON or k=v pairs); - reads stdin")
	fs.IntVar(&f.batch, "batch", 100, "entities per batch read")
	fs.StringVar(&f.ignore, "ignore", "", "comma-separated features not to compare (default: none; on the sandbox: replica, which names the region by design)")
	fs.BoolVar(&f.failOnDiff, "fail-on-diff", false, "exit with status 1 when any entity differs")
	fs.IntVar(&f.show, "show", 10, "print at most this many differing entities")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the random sample")
	fs.DurationVar(&f.progress, "progress", time.Second, "least time between two progress lines on stderr")
	if err := parse(fs, args); err != nil {
		return err
	}
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "ignore" {
			f.ignoreSet = true
		}
	})
	if f.batch < 1 {
		return usagef("-batch must be at least 1")
	}
	if f.sample < 0 {
		return usagef("-sample must not be negative")
	}
	var single map[string]any
	if fs.NArg() > 0 {
		if f.sample > 0 || f.entries != "" {
			return usagef("give ENTRY arguments or -sample/-entries, not both")
		}
		var err error
		if single, err = parseEntry(fs.Args()); err != nil {
			return usageError{err}
		}
	} else if f.sample == 0 && f.entries == "" {
		return usagef("nothing to compare: give an ENTRY, -sample N or -entries FILE")
	}

	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	s, err := c.open(ctx, e)
	if err != nil {
		return err
	}
	defer s.Close()
	if len(s.regions) < 2 {
		return fmt.Errorf("the config names %d region; diff compares two or more", len(s.regions))
	}
	ignore := map[string]bool{}
	if !f.ignoreSet && s.sandbox != nil {
		f.ignore = "replica"
	}
	for _, n := range strings.Split(f.ignore, ",") {
		if n = strings.TrimSpace(n); n != "" {
			ignore[n] = true
		}
	}

	if single != nil {
		return diffOne(ctx, e.stdout, s, single, ignore, f.failOnDiff)
	}
	entries, err := f.load(s, e)
	if err != nil {
		return err
	}
	return diffMany(ctx, e, s, entries, ignore, f)
}

// load returns the entities to compare: -entries, sampled down to -sample,
// or a sample of the sandbox's rows.
func (f diffFlags) load(s *session, e env) ([]map[string]any, error) {
	rng := rand.New(rand.NewPCG(f.seed, 0x7a6d))
	if f.entries == "" {
		if s.sandbox == nil {
			return nil, usagef("-sample without -entries needs the sandbox: a deployment's online store cannot be listed; give -entries FILE")
		}
		n := min(f.sample, s.sandbox.Rows())
		out := make([]map[string]any, 0, n)
		for _, i := range rng.Perm(s.sandbox.Rows())[:n] {
			out = append(out, tandemtest.Entry(i))
		}
		return out, nil
	}
	var r io.Reader = os.Stdin
	if f.entries != "-" {
		b, err := os.ReadFile(f.entries)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	all, err := readEntries(r)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, errors.New("no entries in " + f.entries)
	}
	if f.sample > 0 && f.sample < len(all) {
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		all = all[:f.sample]
	}
	return all, nil
}

// difference is one entity's disagreement between two regions.
type difference struct {
	a, b    region.ID
	feature string // a feature, or "<group> row" for a group's row present in one region only
	va, vb  string
}

// compare lists what differs between one entity's vectors from regions a
// and b: each group whose row is in one region only, then each feature
// (not ignored) whose values differ. When a group's row is missing on one
// side, a feature that is NULL on that side only is put down to the
// missing row, not counted again.
func compare(a, b region.ID, va, vb *featurestore.Vector, ignore map[string]bool) []difference {
	var out []difference
	rowMissing := false
	for i := range va.Groups {
		ga, gb := va.Groups[i], vb.Groups[i]
		if ga.Status != gb.Status {
			rowMissing = true
			out = append(out, difference{a: a, b: b, feature: fmt.Sprintf("%s_%d row", ga.FeatureGroup, ga.Version),
				va: ga.Status.String(), vb: gb.Status.String()})
		}
	}
	for i, n := range va.Names {
		x, y := va.Values[i], vb.Values[i]
		if ignore[n] || equal(x, y) || rowMissing && (x == nil || y == nil) {
			continue
		}
		out = append(out, difference{a: a, b: b, feature: n, va: value(x), vb: value(y)})
	}
	return out
}

func equal(x, y any) bool {
	if tx, ok := x.(time.Time); ok {
		ty, ok := y.(time.Time)
		return ok && tx.Equal(ty)
	}
	return reflect.DeepEqual(x, y)
}

// pairs lists every pair of regions, in config order.
func pairs(ids []region.ID) [][2]int {
	var out [][2]int
	for i := range ids {
		for j := i + 1; j < len(ids); j++ {
			out = append(out, [2]int{i, j})
		}
	}
	return out
}

// diffOne reads one entity from every region, pinned, and prints the
// vectors side by side, marking what differs.
func diffOne(ctx context.Context, w io.Writer, s *session, entry map[string]any, ignore map[string]bool, failOnDiff bool) error {
	vecs := make([]*featurestore.Vector, len(s.regions))
	for i, id := range s.regions {
		v, err := s.fv.GetFeatureVector(ctx, entry, featurestore.Pin(id))
		if err != nil {
			return fmt.Errorf("read from %s: %w", id, err)
		}
		vecs[i] = v
	}
	differs := map[string]bool{}
	for _, p := range pairs(s.regions) {
		for _, d := range compare(s.regions[p[0]], s.regions[p[1]], vecs[p[0]], vecs[p[1]], ignore) {
			differs[d.feature] = true
		}
	}
	fmt.Fprintf(w, "%s v%d  %s, read from each region pinned\n", s.fv.Name(), s.fv.Version(), entryString(entry))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "  feature")
	for _, id := range s.regions {
		fmt.Fprintf(tw, "\t%s", id)
	}
	fmt.Fprintln(tw)
	row := func(name string, vals []string) {
		mark := ""
		switch {
		case differs[name]:
			mark = "DIFFERS"
		case ignore[name]:
			mark = "(ignored)"
		}
		line := "  " + name + "\t" + strings.Join(vals, "\t")
		if mark != "" {
			line += "\t" + mark
		}
		fmt.Fprintln(tw, line)
	}
	for i, g := range vecs[0].Groups {
		vals := make([]string, len(vecs))
		for k, v := range vecs {
			vals[k] = v.Groups[i].Status.String()
		}
		row(fmt.Sprintf("%s_%d row", g.FeatureGroup, g.Version), vals)
	}
	for i, n := range vecs[0].Names {
		vals := make([]string, len(vecs))
		for k, v := range vecs {
			vals[k] = value(v.Values[i])
		}
		row(n, vals)
	}
	_ = tw.Flush()
	if len(differs) == 0 {
		fmt.Fprintln(w, "the regions agree")
		return nil
	}
	fmt.Fprintf(w, "%d feature(s) differ\n", len(differs))
	if failOnDiff {
		return errDiffer
	}
	return nil
}

// tally counts differing entities per feature, per region pair and per
// missing group.
type tally struct {
	entities  int
	differing int
	feature   map[string]int
	pair      map[string]int
	examples  []string
}

// diffMany reads the entities in batches from every region, pinned, and
// prints the counts.
func diffMany(ctx context.Context, e env, s *session, entries []map[string]any, ignore map[string]bool, f diffFlags) error {
	t := tally{feature: map[string]int{}, pair: map[string]int{}}
	batches := (len(entries) + f.batch - 1) / f.batch
	fmt.Fprintf(e.stdout, "%s v%d: %d entities in %d batch(es) of up to %d, read from %s, each pinned\n",
		s.fv.Name(), s.fv.Version(), len(entries), batches, f.batch, joinIDs(s.regions))
	if len(ignore) > 0 {
		fmt.Fprintf(e.stdout, "not compared: %s\n", strings.Join(sortedKeys(ignore), ", "))
	}
	start, last := time.Now(), time.Now()
	for lo := 0; lo < len(entries); lo += f.batch {
		chunk := entries[lo:min(lo+f.batch, len(entries))]
		res := make([]*featurestore.Batch, len(s.regions))
		for i, id := range s.regions {
			b, err := s.fv.GetFeatureVectors(ctx, chunk, featurestore.Pin(id))
			if err != nil {
				return fmt.Errorf("batch at entity %d from %s: %w", lo, id, err)
			}
			res[i] = b
		}
		for k := range chunk {
			t.add(s.regions, res, k, chunk[k], ignore, f.show)
		}
		if batches > 1 && time.Since(last) >= f.progress {
			last = time.Now()
			fmt.Fprintf(e.stderr, "diff: %d/%d entities, %d differ (%s)\n", t.entities, len(entries), t.differing, time.Since(start).Round(time.Millisecond))
		}
	}
	t.print(e.stdout)
	if t.differing > 0 && f.failOnDiff {
		return errDiffer
	}
	return nil
}

func (t *tally) add(ids []region.ID, res []*featurestore.Batch, k int, entry map[string]any, ignore map[string]bool, show int) {
	t.entities++
	features := map[string]bool{}
	var first []difference
	for _, p := range pairs(ids) {
		ds := compare(ids[p[0]], ids[p[1]], &res[p[0]].Vectors[k], &res[p[1]].Vectors[k], ignore)
		if len(ds) == 0 {
			continue
		}
		t.pair[string(ids[p[0]])+"-"+string(ids[p[1]])]++
		for _, d := range ds {
			features[d.feature] = true
		}
		if first == nil {
			first = ds
		}
	}
	if len(features) == 0 {
		return
	}
	t.differing++
	for n := range features {
		t.feature[n]++
	}
	if len(t.examples) < show {
		parts := make([]string, len(first))
		for i, d := range first {
			parts[i] = fmt.Sprintf("%s %s=%s %s=%s", d.feature, d.a, d.va, d.b, d.vb)
		}
		t.examples = append(t.examples, fmt.Sprintf("  %s  %s", entryString(entry), strings.Join(parts, "; ")))
	}
}

func (t *tally) print(w io.Writer) {
	if t.differing == 0 {
		fmt.Fprintf(w, "the regions agree on all %d entities\n", t.entities)
		return
	}
	fmt.Fprintf(w, "differing entities: %d of %d (%.2f%%)\n", t.differing, t.entities, 100*float64(t.differing)/float64(t.entities))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "by feature\tentities")
	for _, n := range byCount(t.feature) {
		fmt.Fprintf(tw, "  %s\t%d\n", n, t.feature[n])
	}
	fmt.Fprintln(tw, "by region pair\tentities")
	for _, p := range byCount(t.pair) {
		fmt.Fprintf(tw, "  %s\t%d\n", p, t.pair[p])
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "first %d:\n", len(t.examples))
	for _, x := range t.examples {
		fmt.Fprintln(w, x)
	}
}

// byCount sorts m's keys by count, largest first, then by name.
func byCount(m map[string]int) []string {
	keys := sortedKeys(m)
	sort.SliceStable(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	return keys
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func joinIDs(ids []region.ID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return strings.Join(s, ", ")
}
