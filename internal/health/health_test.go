package health

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tandemfs/tandem/region"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestSketchQuantiles(t *testing.T) {
	s := NewSketch(6, 5*time.Second)
	// 1000 samples: 1..1000 µs.
	for i := 1; i <= 1000; i++ {
		s.Record(t0, time.Duration(i)*time.Microsecond)
	}
	qs := []float64{0.5, 0.95, 0.99}
	out := make([]time.Duration, 3)
	if n := s.Quantiles(t0, qs, out); n != 1000 {
		t.Fatalf("count %d, want 1000", n)
	}
	want := []time.Duration{500 * time.Microsecond, 950 * time.Microsecond, 990 * time.Microsecond}
	for i := range qs {
		lo, hi := want[i], want[i]+want[i]*7/100
		if out[i] < lo || out[i] > hi {
			t.Errorf("q%v = %v, want within [%v, %v]", qs[i], out[i], lo, hi)
		}
	}
}
func TestSketchWindowSlides(t *testing.T) {
	s := NewSketch(3, time.Second)
	for i := 0; i < 100; i++ {
		s.Record(t0, 100*time.Millisecond)
	}
	if n := s.Count(t0.Add(2 * time.Second)); n != 100 {
		t.Fatalf("inside window: count %d, want 100", n)
	}
	if n := s.Count(t0.Add(3 * time.Second)); n != 0 {
		t.Fatalf("after window: count %d, want 0", n)
	}
	// A new sample in a reused slot must not see the old counts.
	s.Record(t0.Add(3*time.Second), time.Millisecond)
	q, n := s.Quantile(t0.Add(3*time.Second), 0.99)
	if n != 1 || q > 2*time.Millisecond {
		t.Fatalf("after reuse: q99 %v from %d samples, want ~1ms from 1", q, n)
	}
	// Samples from a rotated-out period are dropped.
	s.Record(t0, time.Hour)
	if q, _ := s.Quantile(t0.Add(3*time.Second), 1); q > 2*time.Millisecond {
		t.Fatalf("stale sample counted: max %v", q)
	}
}
func TestSketchBucketsMonotonic(t *testing.T) {
	prev := time.Duration(-1)
	for us := 0; us < 1<<20; us += 7 {
		d := time.Duration(us) * time.Microsecond
		b := bucketOf(d)
		v := bucketValue(b)
		if v < d {
			t.Fatalf("bucket upper bound %v below value %v", v, d)
		}
		if v < prev {
			t.Fatalf("bucket values not monotonic at %v", d)
		}
		prev = v
		if d > 64*time.Microsecond && float64(v-d)/float64(d) > 0.07 {
			t.Fatalf("relative error too large at %v: %v", d, v)
		}
	}
	for i := 0; i < numBuckets; i++ {
		if bucketOf(bucketValue(i)) != i {
			t.Fatalf("bucketOf(bucketValue(%d)) = %d", i, bucketOf(bucketValue(i)))
		}
	}
	if bucketOf(1000*time.Hour) != numBuckets-1 {
		t.Fatal("huge values must land in the last bucket")
	}
}
func TestHealthEjectProbeRecover(t *testing.T) {
	h := NewHealth(region.HealthConfig{FailureThreshold: 3, ProbeBase: 10 * time.Millisecond, ProbeMax: 40 * time.Millisecond, ProbationSuccesses: 2})
	now := t0
	for i := range 2 {
		if h.Failure(now) {
			t.Fatalf("ejected after %d failures, before the threshold of 3", i+1)
		}
	}
	h.Success(now, time.Millisecond) // resets the run
	h.Failure(now)
	h.Failure(now)
	if !h.Failure(now) {
		t.Fatal("third failure in a row must eject")
	}
	if h.Available() || h.State() != region.Ejected || h.Ejections() != 1 {
		t.Fatalf("state %v after ejection", h.State())
	}
	if h.ProbeDue(now.Add(9 * time.Millisecond)) {
		t.Fatal("probe before ProbeBase")
	}
	if !h.ProbeDue(now.Add(10 * time.Millisecond)) {
		t.Fatal("probe due at ProbeBase")
	}
	if h.ProbeDue(now.Add(10 * time.Millisecond)) {
		t.Fatal("a second probe while one is running")
	}
	// Failed probe: the next one waits twice as long.
	now = now.Add(10 * time.Millisecond)
	h.ProbeResult(now, false)
	if h.ProbeDue(now.Add(19 * time.Millisecond)) {
		t.Fatal("backoff did not grow")
	}
	if !h.ProbeDue(now.Add(20 * time.Millisecond)) {
		t.Fatal("probe due after 2×ProbeBase")
	}
	now = now.Add(20 * time.Millisecond)
	h.ProbeResult(now, true)
	if h.State() != region.Probation || !h.Available() {
		t.Fatalf("state %v after good probe, want probation", h.State())
	}
	// One failure during probation ejects again, with a longer backoff.
	if !h.Failure(now) {
		t.Fatal("failure on probation must eject")
	}
	if h.ProbeDue(now.Add(39 * time.Millisecond)) {
		t.Fatal("backoff after a probation failure must keep growing (capped at ProbeMax)")
	}
	if !h.ProbeDue(now.Add(40 * time.Millisecond)) {
		t.Fatal("probe due at ProbeMax")
	}
	now = now.Add(40 * time.Millisecond)
	h.ProbeResult(now, true)
	h.Success(now, time.Millisecond)
	h.Success(now, time.Millisecond)
	if h.State() != region.Healthy {
		t.Fatalf("state %v after probation successes, want healthy", h.State())
	}
	// Back to healthy: the backoff starts over.
	h.Failure(now)
	h.Failure(now)
	h.Failure(now)
	if h.ProbeDue(now.Add(9*time.Millisecond)) || !h.ProbeDue(now.Add(10*time.Millisecond)) {
		t.Fatal("backoff did not reset after full recovery")
	}
}
func TestHealthLateSuccessDoesNotUneject(t *testing.T) {
	h := NewHealth(region.HealthConfig{FailureThreshold: 1})
	h.Failure(t0)
	h.Success(t0, time.Millisecond)
	if h.Available() {
		t.Fatal("a loser's late success must not bring an ejected server back; only probes do")
	}
}
func TestNewTopologyErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		local region.ID
		specs []Spec
	}{
		"empty":         {"eu", nil},
		"no local":      {"eu", []Spec{{ID: "us", Servers: []string{"a"}}}},
		"empty local":   {"", []Spec{{ID: "us", Servers: []string{"a"}}}},
		"no servers":    {"eu", []Spec{{ID: "eu"}}},
		"dup region":    {"eu", []Spec{{ID: "eu", Servers: []string{"a"}}, {ID: "EU", Servers: []string{"b"}}}},
		"dup server":    {"eu", []Spec{{ID: "eu", Servers: []string{"a"}}, {ID: "us", Servers: []string{"a"}}}},
		"bad region id": {"eu", []Spec{{ID: "eu", Servers: []string{"a"}}, {ID: " ", Servers: []string{"b"}}}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewTopology(tc.local, tc.specs, region.HealthConfig{}); !errors.Is(err, ErrInvalidTopology) {
				t.Fatalf("err %v, want ErrInvalidTopology", err)
			}
		})
	}
}
func names(list []*Server) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.Name)
	}
	return out
}
func TestPlan(t *testing.T) {
	topo, err := NewTopology("EU", []Spec{
		{ID: "us", Servers: []string{"us1"}},
		{ID: "eu", Servers: []string{"eu1", "eu2"}},
	}, region.HealthConfig{FailureThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	if topo.Local() != "eu" || topo.Regions()[0] != "eu" {
		t.Fatalf("local %q regions %v", topo.Local(), topo.Regions())
	}
	p := topo.Plan("", nil)
	if len(p) != 3 || p[0].Region != "eu" || p[1].Region != "eu" || p[0] == p[1] || p[2].Name != "us1" {
		t.Fatalf("healthy plan %v, want two eu servers then us1", names(p))
	}
	eu := topo.RegionServers("eu")
	eu[0].Health.Failure(t0)
	p = topo.Plan("", nil)
	if len(p) != 2 || p[0].Name != "eu2" || p[1].Name != "us1" {
		t.Fatalf("one eu server ejected: plan %v, want [eu2 us1]", names(p))
	}
	eu[1].Health.Failure(t0)
	p = topo.Plan("", nil)
	if len(p) != 2 || p[0].Name != "us1" || p[1].Region != "eu" {
		t.Fatalf("eu ejected: plan %v, want us1 first, then an eu server", names(p))
	}
	if topo.RegionAvailable("eu") {
		t.Fatal("eu has no available server")
	}
	topo.RegionServers("us")[0].Health.Failure(t0)
	p = topo.Plan("", nil)
	if len(p) != 2 || p[0].Region != "eu" || p[1].Region != "us" {
		t.Fatalf("all ejected: plan %v, want both regions, local first", names(p))
	}
	p = topo.Plan("us", nil)
	if len(p) != 1 || p[0].Name != "us1" {
		t.Fatalf("pinned plan %v", names(p))
	}
	if p := topo.Plan("ap", nil); len(p) != 0 {
		t.Fatalf("unknown pin planned %v", names(p))
	}
}
func TestPickSpreadsByInFlight(t *testing.T) {
	topo, _ := NewTopology("eu", []Spec{{ID: "eu", Servers: []string{"a", "b"}}}, region.HealthConfig{})
	a := topo.RegionServers("eu")[0]
	a.Health.Begin()
	a.Health.Begin()
	for i := 0; i < 50; i++ {
		if p := topo.Plan("", nil); p[0].Name != "b" {
			t.Fatalf("picked %s with more in flight", p[0].Name)
		}
	}
}
func BenchmarkSketchRecord(b *testing.B) {
	s := NewSketch(0, 0)
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Record(now, time.Duration(i&1023)*time.Microsecond)
	}
}
func BenchmarkSketchRecordParallel(b *testing.B) {
	s := NewSketch(0, 0)
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			s.Record(now, time.Duration(i&1023)*time.Microsecond)
			i++
		}
	})
}
func TestSnapshotTailAndQuantile(t *testing.T) {
	s := NewSketch(2, time.Second)
	for i := 1; i <= 100; i++ {
		s.Record(t0, time.Duration(i)*time.Millisecond)
	}
	snap := s.Snapshot(t0, nil)
	if snap.Total() != 100 {
		t.Fatalf("total %d", snap.Total())
	}
	if n := snap.Tail(90 * time.Millisecond); n < 9 || n > 11 {
		t.Fatalf("tail above 90ms: %d, want ~10", n)
	}
	if n := snap.Tail(time.Second); n != 0 {
		t.Fatalf("tail above 1s: %d", n)
	}
	if q := snap.Quantile(0.5); q < 50*time.Millisecond || q > 53*time.Millisecond {
		t.Fatalf("median %v", q)
	}
	var steps []time.Duration
	Steps(time.Millisecond, 2*time.Millisecond, func(d time.Duration) bool { steps = append(steps, d); return true })
	if len(steps) < 10 || steps[0] != time.Millisecond || steps[len(steps)-1] > 2*time.Millisecond {
		t.Fatalf("steps %v", steps)
	}
	for i := 1; i < len(steps); i++ {
		if steps[i] <= steps[i-1] {
			t.Fatalf("steps not ascending: %v", steps)
		}
	}
}

// TestTailMatchesASum: Tail's cached suffix sums agree with counting the
// samples above d, for random windows, and a reused snapshot is not left
// with the previous window's sums.
func TestTailMatchesASum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Unix(0, 0)
	var snap Snapshot
	for round := range 50 {
		sk := NewSketch(1, time.Minute)
		var samples []time.Duration
		for range rng.IntN(500) {
			d := time.Duration(rng.Int64N(int64(200 * time.Millisecond)))
			sk.Record(now, d)
			samples = append(samples, d)
		}
		sk.Snapshot(now, &snap)
		for range 20 {
			d := time.Duration(rng.Int64N(int64(250 * time.Millisecond)))
			var want int64
			for _, s := range samples {
				if bucketOf(s) > bucketOf(d) {
					want++
				}
			}
			if got := snap.Tail(d); got != want {
				t.Fatalf("round %d: Tail(%v) = %d, want %d", round, d, got, want)
			}
		}
	}
}
