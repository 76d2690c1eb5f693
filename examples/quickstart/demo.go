package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandemfs/tandem/examples/tandemtest"
	"github.com/tandemfs/tandem/featurestore"
)

// demo is the sandbox, the client and the lookup workers.
type demo struct {
	cfg    config
	out    io.Writer
	start  time.Time
	sb     *tandemtest.Sandbox
	client *featurestore.Client
	fv     *featurestore.FeatureView

	current atomic.Pointer[tally] // the phase lookups are recorded in
	phases  []*tally
	writes  []writeResult
	notes   []string // what each phase showed, for the summary

	revivedAt time.Time
}

// writeResult is a metadata write and where it landed.
type writeResult struct {
	view   string
	active string // the active region per the ACA when it was sent
	landed string // the region that took it
}

func newDemo(ctx context.Context, cfg config, out io.Writer) (_ *demo, err error) {
	d := &demo{cfg: cfg, out: out, start: time.Now()}
	d.sb, err = tandemtest.Start(ctx, tandemtest.Options{RemoteLatency: cfg.remoteLatency})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	fmt.Fprintf(out, "Tandem quickstart: one feature view read from two regions as one.\n")
	fmt.Fprintf(out, "sandbox up in %v: online stores eu (local) and us (remote, +%v per round trip), %d rows per feature group;\n",
		time.Since(d.start).Round(time.Millisecond), cfg.remoteLatency, d.sb.Rows())
	fmt.Fprintf(out, "  2 Hopsworks REST servers (eu active), 3 ACA endpoints serving %s\n", stateString(d.sb))

	d.client, err = featurestore.New(d.sb.Config())
	if err != nil {
		return nil, err
	}
	d.fv, err = d.client.FeatureView(ctx, tandemtest.FeatureView, tandemtest.FeatureViewVersion)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "feature view %s v%d: serving keys %v, features %v\n",
		d.fv.Name(), d.fv.Version(), d.fv.ServingKeys(), d.fv.Features())
	fmt.Fprintf(out, "%d workers, about %d lookups/s, %v per phase\n", cfg.workers, cfg.rate, cfg.phase)
	return d, nil
}

func (d *demo) close() {
	if d.client != nil {
		_ = d.client.Close()
	}
	_ = d.sb.Close()
}

func stateString(sb *tandemtest.Sandbox) string {
	st := sb.ACAState()
	return fmt.Sprintf(`{"active":%q,"secondary":%q}`, st.Active, st.Secondary)
}

// run drives the phases with the workers running throughout.
func (d *demo) run(ctx context.Context) error {
	d.current.Store(newTally("setup"))
	wctx, stopWorkers := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range d.cfg.workers {
		wg.Go(func() { d.worker(wctx, uint64(i)) })
	}
	err := d.phasesRun(ctx)
	stopWorkers()
	wg.Wait()
	if err != nil {
		return err
	}
	return d.summary()
}

func (d *demo) phasesRun(ctx context.Context) error {
	phases := []struct {
		title string
		do    func(ctx context.Context) error // at the start of the phase
		after func(t *tally) error            // at its end
	}{
		{"1. both regions healthy", d.writeBeforeFlip, nil},
		{fmt.Sprintf("2. eu stalls %.0f%% of reads by %v: hedges to us win", d.cfg.stallP*100, d.cfg.stall),
			func(context.Context) error { return d.sb.SetStall(tandemtest.EU, d.cfg.stallP, d.cfg.stall) },
			func(*tally) error { return d.sb.SetStall(tandemtest.EU, 0, 0) }},
		{"3. eu killed: its MySQL servers refuse and reset connections",
			func(context.Context) error { return d.sb.KillRegion(tandemtest.EU) }, nil},
		{"4. eu revived: traffic returns to eu", d.revive, d.afterRevive},
		{"5. ACA flips to us: metadata writes follow, lookups stay local", d.flip, nil},
	}
	for _, p := range phases {
		t := newTally(p.title)
		d.phases = append(d.phases, t)
		fmt.Fprintf(d.out, "\n%s\n", p.title)
		header(d.out)
		began := time.Now()
		d.current.Store(t)
		if err := p.do(ctx); err != nil {
			return err
		}
		if err := d.watch(ctx, t, began); err != nil {
			return err
		}
		if p.after != nil {
			if err := p.after(t); err != nil {
				return err
			}
		}
	}
	return nil
}

// watch prints the phase's figures every tick until the phase ends.
func (d *demo) watch(ctx context.Context, t *tally, began time.Time) error {
	tk := time.NewTicker(d.cfg.tick)
	defer tk.Stop()
	end := began.Add(d.cfg.phase)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-tk.C:
			t.snapshot().row(d.out, fmt.Sprintf("%.1fs", now.Sub(began).Seconds()), d.servers())
			if !now.Before(end.Add(-d.cfg.tick / 2)) {
				return nil
			}
		}
	}
}

// servers describes the client's view of each online server.
func (d *demo) servers() string {
	var b strings.Builder
	for i, s := range d.client.Online().Stats().Servers {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s:%s", s.Name, s.State)
	}
	return b.String()
}

// worker looks up random entities at its share of the rate until ctx ends.
func (d *demo) worker(ctx context.Context, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 42))
	tk := time.NewTicker(time.Duration(d.cfg.workers) * time.Second / time.Duration(d.cfg.rate))
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		t := d.current.Load()
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		began := time.Now()
		v, err := d.fv.GetFeatureVector(lctx, tandemtest.Entry(rng.IntN(d.sb.Rows())))
		took := time.Since(began)
		cancel()
		if ctx.Err() != nil {
			return // stopping: not the lookup's fault
		}
		if err == nil {
			err = check(v)
		}
		if err != nil {
			t.record("", false, took, err)
			continue
		}
		t.record(v.Region, v.Hedged, took, nil)
	}
}

// check verifies that a vector is whole and that its data come from the
// region it says served it (the sandbox's replica column).
func check(v *featurestore.Vector) error {
	if !v.Complete() {
		return fmt.Errorf("incomplete vector: %+v", v.Groups)
	}
	if r, _ := v.Get("replica"); r != string(v.Region) {
		return fmt.Errorf("vector says region %s but its row comes from %v", v.Region, r)
	}
	return nil
}

// writeBeforeFlip creates a feature view while eu is active.
func (d *demo) writeBeforeFlip(ctx context.Context) error {
	return d.write(ctx, "quickstart_before_flip")
}

func (d *demo) write(ctx context.Context, view string) error {
	// The state the write will follow: the client's first ACA poll may
	// still be under way on a busy machine, so wait for it.
	st, err := d.client.ACA().WaitReady(ctx)
	if err != nil {
		return fmt.Errorf("ACA state before CreateFeatureView %s: %w", view, err)
	}
	fv, err := d.client.CreateFeatureView(ctx, tandemtest.ViewSpec(view, 1))
	if err != nil {
		return fmt.Errorf("CreateFeatureView %s: %w", view, err)
	}
	d.writes = append(d.writes, writeResult{view: view, active: string(st.Active), landed: string(fv.Region)})
	fmt.Fprintf(d.out, "  metadata write: CreateFeatureView(%s) with ACA active=%s -> accepted by %s\n", view, st.Active, fv.Region)
	return nil
}

func (d *demo) revive(context.Context) error {
	d.revivedAt = time.Now()
	return d.sb.ReviveRegion(tandemtest.EU)
}

func (d *demo) afterRevive(t *tally) error {
	s := t.snapshot()
	if s.firstEU.IsZero() {
		d.notes = append(d.notes, "traffic did NOT return to eu after the revive")
		return nil
	}
	note := fmt.Sprintf("traffic returned to eu %v after the revive", s.firstEU.Sub(d.revivedAt).Round(time.Millisecond))
	fmt.Fprintf(d.out, "  %s\n", note)
	d.notes = append(d.notes, note)
	return nil
}

// flip flips the ACA, waits until the client has seen it, and writes.
func (d *demo) flip(ctx context.Context) error {
	flipped := time.Now()
	next, err := d.sb.FlipACA()
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  ACA endpoints now serve %s\n", stateString(d.sb))
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		if st, ok := d.client.ACA().Current(); ok && st.Active == next.Active {
			break
		}
		select {
		case <-wctx.Done():
			return errors.New("the client did not see the ACA flip within 10s")
		case <-time.After(5 * time.Millisecond):
		}
	}
	note := fmt.Sprintf("the client followed the ACA flip in %v", time.Since(flipped).Round(time.Millisecond))
	fmt.Fprintf(d.out, "  %s\n", note)
	d.notes = append(d.notes, note)
	return d.write(ctx, "quickstart_after_flip")
}

// summary prints the per-phase table and the verdict.
func (d *demo) summary() error {
	fmt.Fprintf(d.out, "\nsummary\n")
	header(d.out)
	for i, t := range d.phases {
		t.snapshot().row(d.out, fmt.Sprintf("phase %d", i+1), "")
	}
	total := merge("total", d.phases)
	total.row(d.out, "total", "")

	var problems []string
	if total.failed > 0 {
		last := merge("", d.phases).lastErr
		problems = append(problems, fmt.Sprintf("%d lookups failed (last: %v)", total.failed, last))
	}
	if total.eu == 0 || total.us == 0 {
		problems = append(problems, "lookups were not served by both regions")
	}
	if kill := d.phases[2].snapshot(); kill.us == 0 {
		problems = append(problems, "no lookup was served by us while eu was down")
	}
	if d.phases[3].snapshot().firstEU.IsZero() {
		problems = append(problems, "traffic did not return to eu after the revive")
	}
	for _, w := range d.writes {
		if w.landed != w.active {
			problems = append(problems, fmt.Sprintf("write %s landed in %s, but %s was active", w.view, w.landed, w.active))
		}
	}
	for _, id := range d.sb.Regions() {
		wc := d.sb.Writes(id)
		fmt.Fprintf(d.out, "  metadata writes in %s: %d accepted, %d refused as passive\n", id, wc.Accepted, wc.Refused)
		if wc.Refused > 0 {
			problems = append(problems, fmt.Sprintf("%d writes reached %s while it was passive", wc.Refused, id))
		}
	}
	for _, n := range d.notes {
		fmt.Fprintf(d.out, "  %s\n", n)
	}
	fmt.Fprintf(d.out, "  ran in %v\n", time.Since(d.start).Round(100*time.Millisecond))
	if len(problems) > 0 {
		fmt.Fprintf(d.out, "FAIL\n")
		return errors.New(strings.Join(problems, "; "))
	}
	fmt.Fprintf(d.out, "PASS: %d lookups, 0 failed (eu %d, us %d, %d hedged); writes followed the ACA\n",
		total.lookups, total.eu, total.us, total.hedged)
	return nil
}
