package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/examples/tandemtest"
	"github.com/tandemfs/tandem/featurestore"
	"github.com/tandemfs/tandem/online"
)

func runStatus(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("status", "", e)
	reads := fs.Int("reads", 20, "lookups per region, pinned, before the online servers' latency is shown (0: none)")
	entryArg := fs.String("entry", "", "the entry those lookups read, JSON or k=v pairs (default on the sandbox: cc_num=100001; a deployment needs it for latency figures)")
	acaTimeout := fs.Duration("aca-timeout", 2*time.Second, "bound on each ACA endpoint's answer")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("status takes no arguments")
	}
	var entry map[string]any
	if *entryArg != "" {
		words := strings.Fields(*entryArg)
		if strings.HasPrefix(strings.TrimSpace(*entryArg), "{") {
			words = []string{*entryArg}
		}
		var err error
		if entry, err = parseEntry(words); err != nil {
			return usageError{err}
		}
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	s, err := c.open(ctx, e)
	if err != nil {
		return err
	}
	defer s.Close()
	if entry == nil && s.sandbox != nil {
		entry = tandemtest.Entry(0)
	}

	w := e.stdout
	printACA(ctx, w, s.client, *acaTimeout)
	fmt.Fprintln(w)
	var readErrs []error
	if entry != nil && *reads > 0 {
		for _, id := range s.regions {
			for range *reads {
				if _, err := s.fv.GetFeatureVector(ctx, entry, featurestore.Pin(id)); err != nil {
					readErrs = append(readErrs, fmt.Errorf("%s: %w", id, err))
					break
				}
			}
		}
		fmt.Fprintf(w, "online servers, after %d lookups of %s per region (this process's view):\n", *reads, entryString(entry))
	} else {
		fmt.Fprintln(w, "online servers (no lookups made: give -entry for latency figures):")
	}
	printOnline(w, s.client.Online().Stats())
	for _, err := range readErrs {
		fmt.Fprintf(w, "  lookups failed in %v\n", err)
	}
	return nil
}

// endpointAnswer is one ACA endpoint's own answer, polled directly.
type endpointAnswer struct {
	url     string
	state   aca.State
	err     error
	latency time.Duration
}

// printACA polls each ACA endpoint once, then shows the client's quorum
// decision and its staleness.
func printACA(ctx context.Context, w io.Writer, fc *featurestore.Client, timeout time.Duration) {
	ac := fc.ACA()
	if ac == nil {
		fmt.Fprintln(w, "ACA: no endpoints configured (metadata writes fail with ErrNoActiveRegion)")
		return
	}
	cfg := ac.Config()
	answers := pollEndpoints(ctx, cfg.Endpoints, timeout)
	fmt.Fprintf(w, "ACA endpoints (%d, polled directly):\n", len(answers))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, a := range answers {
		if a.err != nil {
			fmt.Fprintf(tw, "  %s\terror: %v\t%s\n", a.url, a.err, ms(a.latency))
			continue
		}
		fmt.Fprintf(tw, "  %s\tactive=%s secondary=%s%s\t%s\n", a.url, a.state.Active, a.state.Secondary, epoch(a.state), ms(a.latency))
	}
	_ = tw.Flush()

	st, err := ac.Refresh(ctx)
	need := len(cfg.Endpoints)/2 + 1
	switch {
	case err != nil:
		fmt.Fprintf(w, "quorum (%d of %d): none: %v\n", need, len(cfg.Endpoints), err)
	default:
		fmt.Fprintf(w, "quorum (%d of %d): active=%s secondary=%s%s, confirmed %s ago\n",
			need, len(cfg.Endpoints), st.Active, st.Secondary, epoch(st), ac.Staleness().Round(time.Millisecond))
	}
	if err := ac.LastError(); err != nil {
		fmt.Fprintf(w, "last round: %v\n", err)
	}
}

func epoch(st aca.State) string {
	if st.Epoch == 0 {
		return ""
	}
	return fmt.Sprintf(" epoch=%d", st.Epoch)
}

// pollEndpoints asks every endpoint at once, as the client does, but
// keeps each answer. Redirects are not followed.
func pollEndpoints(ctx context.Context, endpoints []string, timeout time.Duration) []endpointAnswer {
	hc := &http.Client{
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer hc.CloseIdleConnections()
	out := make([]endpointAnswer, len(endpoints))
	var wg sync.WaitGroup
	for i, ep := range endpoints {
		wg.Go(func() {
			start := time.Now()
			st, err := pollOne(ctx, hc, ep)
			out[i] = endpointAnswer{url: redact(ep), state: st, err: err, latency: time.Since(start)}
		})
	}
	wg.Wait()
	return out
}

func pollOne(ctx context.Context, hc *http.Client, ep string) (aca.State, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep, nil)
	if err != nil {
		return aca.State{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is printed beside it
		}
		return aca.State{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, aca.MaxBodyBytes+1))
	if err != nil {
		return aca.State{}, err
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return aca.State{}, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return aca.ParseState(body)
}

// redact drops user info and query from an endpoint URL, which may carry
// credentials.
func redact(ep string) string {
	u, err := url.Parse(ep)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

func printOnline(w io.Writer, st online.Stats) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  region\tserver\thealth\tp50\tp99\thedge delay\tejections\topen conns")
	for _, s := range st.Servers {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n", s.Region, s.Name, s.State, latencyOrDash(s.P50), latencyOrDash(s.P99),
			ms(s.HedgeDelay), s.Ejections, s.Open)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "  hedge budget left: %.1f tokens\n", st.HedgeTokens)
}

func latencyOrDash(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return ms(d)
}
