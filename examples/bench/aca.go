package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/internal/flighttest"
	"github.com/tandemfs/tandem/internal/hopsworkstest"
	"github.com/tandemfs/tandem/metadata"
	"github.com/tandemfs/tandem/offline"
	"github.com/tandemfs/tandem/region"
)

const (
	eu = region.ID("eu")
	us = region.ID("us")
)

var s6Schema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "event_time", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
	{Name: "amount", Type: arrow.PrimitiveTypes.Float64},
}, nil)

func s6Records() []arrow.RecordBatch {
	base := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	b := array.NewRecordBuilder(memory.DefaultAllocator, s6Schema)
	defer b.Release()
	var recs []arrow.RecordBatch
	for i := range 1000 {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(base.Add(time.Duration(i) * time.Minute).UnixMilli()))
		b.Field(2).(*array.Float64Builder).Append(float64(i) / 2)
		if (i+1)%250 == 0 {
			recs = append(recs, b.NewRecordBatch())
		}
	}
	return recs
}

// s6Op is one metadata write or offline read of S6.
type s6Op struct {
	at     time.Duration // when it ended, since the flip
	region region.ID
	err    error
}

// runACA is S6. Three ACA endpoints (aca.Handler, each on its own state
// file, as a GitOps deployment serves them) say eu is active; Tandem's
// aca.Client follows them, and drives a metadata client (writes: feature
// view creations) and an offline client (Arrow Flight batch reads) that
// run in a loop. At the flip, every file says us, and in the same
// instant eu's Hopsworks turns read-only and eu's query service goes
// standby while us's take over: the ground truth changes at once, and the
// question is how fast the SDK follows and whether any write lands on the
// passive region in between.
func runACA(ctx context.Context, h *harness, d *scenarioDef) (*scenarioResult, error) {
	res := d.result()
	dir, err := os.MkdirTemp("", "bench-aca-*")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	state := func(active, secondary region.ID, epoch int) []byte {
		return fmt.Appendf(nil, `{"active": %q, "secondary": %q, "epoch": %d}`, active, secondary, epoch)
	}
	var files, urls []string
	for i := range 3 {
		f := filepath.Join(dir, fmt.Sprintf("aca-%d.json", i))
		if err := os.WriteFile(f, state(eu, us, 1), 0o644); err != nil {
			return res, err
		}
		hd, err := aca.NewHandler(f, aca.WithCheckInterval(0))
		if err != nil {
			return res, err
		}
		srv := httptest.NewServer(hd)
		defer srv.Close()
		files, urls = append(files, f), append(urls, srv.URL)
	}
	ac, err := aca.New(aca.Config{Endpoints: urls, Interval: h.cfg.acaInterval, Local: eu})
	if err != nil {
		return res, err
	}
	defer ac.Close()
	// A second client that nothing else uses: it can follow by polling
	// only, without the early re-poll a refused write triggers.
	idle, err := aca.New(aca.Config{Endpoints: urls, Interval: h.cfg.acaInterval, Local: eu})
	if err != nil {
		return res, err
	}
	defer idle.Close()

	store := hopsworkstest.NewStore(hopsworkstest.StoreConfig{Project: "bench"})
	fg := hopsworkstest.FeatureGroupDef{ID: 1, Name: "sales", Version: 1, Features: []hopsworkstest.FeatureDef{
		{Name: "id", Type: "bigint", Primary: true}, {Name: "amount", Type: "double"},
	}}
	store.AddFeatureGroup(fg)
	store.AddFeatureView(hopsworkstest.FeatureViewDef{Name: "sales", Version: 1, Joins: []hopsworkstest.JoinDef{{FeatureGroup: fg}}})
	hw := map[region.ID]*hopsworkstest.Server{
		eu: hopsworkstest.New(hopsworkstest.Options{Region: eu, Active: true, Store: store}),
		us: hopsworkstest.New(hopsworkstest.Options{Region: us, Store: store}),
	}
	defer hw[eu].Close()
	defer hw[us].Close()
	mc, err := metadata.New(metadata.Config{
		Local:   eu,
		Regions: []metadata.RegionConfig{{ID: eu, BaseURL: hw[eu].URL()}, {ID: us, BaseURL: hw[us].URL()}},
		APIKey:  hopsworkstest.DefaultAPIKey,
		Project: "bench",

		AllowInsecureHTTP: true, // the fakes serve http on loopback
	}, metadata.WithActiveSource(ac))
	if err != nil {
		return res, err
	}
	defer mc.Close()

	recs := s6Records()
	qs := map[region.ID]*flighttest.Server{}
	var ocfg offline.Config
	for _, r := range []region.ID{eu, us} {
		hs := hw[r]
		s, err := flighttest.Start(flighttest.Config{
			Decode: func(b []byte) (flighttest.Query, error) {
				var p hopsworkstest.BatchPayload
				if err := json.Unmarshal(b, &p); err != nil {
					return flighttest.Query{}, err
				}
				if p.Query == "" {
					return flighttest.Query{}, errors.New("payload without a query")
				}
				// A query service serves a query, not a view name: the
				// writers' views have the sales query too, and the fake
				// Hopsworks may name any of them in the payload.
				return flighttest.Query{FeatureView: "sales", Version: 1}, nil
			},
			Verify: func(p []byte, sig string) error {
				if !hs.VerifySignature(string(p), sig) {
					return errors.New("not signed by this region's Hopsworks")
				}
				return nil
			},
		})
		if err != nil {
			return res, err
		}
		defer s.Close()
		if err := s.AddFeatureView("sales", 1, "event_time", s6Schema, recs); err != nil {
			return res, err
		}
		qs[r] = s
		ocfg.Regions = append(ocfg.Regions, offline.RegionConfig{ID: r, Addr: s.Addr(), Insecure: true})
	}
	for _, r := range recs {
		r.Release()
	}
	qs[us].SetReady(false)
	oc, err := offline.New(ocfg, ac, offline.WithQuerySource(offline.MetadataQueries(mc)))
	if err != nil {
		return res, err
	}
	defer oc.Close()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = ac.WaitReady(wctx)
	cancel()
	if err != nil {
		return res, err
	}

	// The loops: two writers, two readers, each pausing 5 ms between
	// operations (metadata traffic is light, but must be there at the flip).
	var (
		flipNs  atomic.Int64 // unix ns of the flip; 0 before
		mu      sync.Mutex
		writes  []s6Op
		reads   []s6Op
		stop    = make(chan struct{})
		wg      sync.WaitGroup
		counter atomic.Int64
	)
	rel := func() time.Duration {
		f := flipNs.Load()
		if f == 0 {
			return -1
		}
		return time.Duration(time.Now().UnixNano() - f)
	}
	loop := func(f func(ctx context.Context) s6Op, into *[]s6Op) {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
			octx, cancel := context.WithTimeout(ctx, 5*time.Second)
			o := f(octx)
			cancel()
			o.at = rel()
			mu.Lock()
			*into = append(*into, o)
			mu.Unlock()
		}
	}
	for range 2 {
		wg.Add(2)
		go loop(func(ctx context.Context) s6Op {
			n := counter.Add(1)
			fv, err := mc.CreateFeatureView(ctx, metadata.FeatureViewSpec{
				Name: fmt.Sprintf("bench_view_%d", n), Version: 1,
				Query: &metadata.Query{LeftFeatureGroup: &metadata.FeatureGroup{ID: 1}, LeftFeatures: []metadata.FeatureGroupFeature{{Name: "id"}, {Name: "amount"}}},
			})
			if err != nil {
				return s6Op{err: err}
			}
			return s6Op{region: fv.Region}
		}, &writes)
		go loop(func(ctx context.Context) s6Op {
			rd, err := oc.ReadBatch(ctx, "sales", 1, time.Time{}, time.Time{}, offline.WithRetry(2))
			if err != nil {
				return s6Op{err: err}
			}
			defer rd.Release()
			rows := 0
			for rd.Next() {
				rows += int(rd.RecordBatch().NumRows())
			}
			if err := rd.Err(); err != nil {
				return s6Op{region: rd.Region(), err: err}
			}
			if rows != 1000 {
				return s6Op{region: rd.Region(), err: fmt.Errorf("read %d rows, want 1000", rows)}
			}
			return s6Op{region: rd.Region()}
		}, &reads)
	}
	pre := max(h.cfg.pre, time.Second)
	if h.cfg.short {
		pre = h.cfg.pre
	}
	sleepCtx(ctx, pre)
	// The flip: the ground truth changes at once.
	for _, f := range files {
		if err := os.WriteFile(f+".tmp", state(us, eu, 2), 0o644); err != nil {
			return res, err
		}
		if err := os.Rename(f+".tmp", f); err != nil {
			return res, err
		}
	}
	hw[eu].SetActive(false)
	hw[us].SetActive(true)
	qs[eu].SetReady(false)
	qs[us].SetReady(true)
	flip := time.Now()
	flipNs.Store(flip.UnixNano())
	follow, followIdle := time.Duration(-1), time.Duration(-1)
	for deadline := flip.Add(5*h.cfg.acaInterval + 2*time.Second); time.Now().Before(deadline) && ctx.Err() == nil; {
		if st, ok := ac.Current(); ok && st.Active == us && follow < 0 {
			follow = time.Since(flip)
		}
		if st, ok := idle.Current(); ok && st.Active == us && followIdle < 0 {
			followIdle = time.Since(flip)
		}
		if follow >= 0 && followIdle >= 0 {
			break
		}
		time.Sleep(500 * time.Microsecond)
	}
	sleepCtx(ctx, 2*h.cfg.acaInterval+500*time.Millisecond)
	close(stop)
	wg.Wait()

	summary := func(ops []s6Op) (before, after, failed int, firstUS time.Duration, errs []string) {
		firstUS = -1
		for _, o := range ops {
			if o.err != nil {
				failed++
				if len(errs) < 3 {
					errs = append(errs, shortErr(o.err))
				}
				continue
			}
			if o.at < 0 {
				before++
				continue
			}
			after++
			if o.region == us && (firstUS < 0 || o.at < firstUS) {
				firstUS = o.at
			}
		}
		return
	}
	wb, wa, wf, wUS, werrs := summary(writes)
	rb, ra, rf, rUS, rerrs := summary(reads)
	refused := len(hw[eu].RefusedWrites()) + len(hw[us].RefusedWrites())
	var standby int
	for _, s := range qs {
		for _, r := range s.Requests() {
			if !r.Ready {
				standby++
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ACA poll interval %v, 3 endpoints (aca.Handler on files, checked on every request); 2 writers and 2 offline readers, 5 ms apart.\n\n", h.cfg.acaInterval)
	b.WriteString("| measure | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| ACA client under traffic follows the flip after | %s (%s of the poll interval) |\n", since(follow), pctDur(follow, h.cfg.acaInterval))
	fmt.Fprintf(&b, "| idle ACA client (polling only) follows the flip after | %s (%s of the poll interval) |\n", since(followIdle), pctDur(followIdle, h.cfg.acaInterval))
	fmt.Fprintf(&b, "| first metadata write accepted by us after | %s |\n", since(wUS))
	fmt.Fprintf(&b, "| first offline read served by us after | %s |\n", since(rUS))
	fmt.Fprintf(&b, "| metadata writes ok before / after the flip, failed | %d / %d, %d |\n", wb, wa, wf)
	fmt.Fprintf(&b, "| offline reads ok before / after the flip, failed | %d / %d, %d |\n", rb, ra, rf)
	fmt.Fprintf(&b, "| **writes that reached the passive region** (refused there as read-only) | **%d** |\n", refused)
	fmt.Fprintf(&b, "| Flight calls that reached a standby query service | %d |\n", standby)
	for _, e := range append(werrs, rerrs...) {
		fmt.Fprintf(&b, "\nerror seen: `%s`\n", e)
	}
	res.table = b.String()
	h.logf("S6: follow %s (idle client %s), first write on us %s, first read on us %s, writes to passive %d, standby calls %d, failed writes %d reads %d",
		since(follow), since(followIdle), since(wUS), since(rUS), refused, standby, wf, rf)
	return res, ctx.Err()
}

func pctDur(d, of time.Duration) string {
	if d < 0 || of <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(d)/float64(of))
}
