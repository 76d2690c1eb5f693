package aca

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"go.opentelemetry.io/otel/metric"
)

// pollResult is the outcome of one poll of one endpoint.
type pollResult struct {
	state State
	err   *EndpointError // nil on success
}

// poll asks one endpoint for its state, with If-None-Match when we hold its
// ETag. It updates ep's ETag cache and never returns a zero state with a nil
// error.
func (c *Client) poll(ctx context.Context, ep *endpointState) pollResult {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	fail := func(status int, err error) pollResult {
		return pollResult{err: &EndpointError{Endpoint: ep.label, Status: status, Err: err}}
	}

	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, ep.url, nil)
	if err != nil {
		return fail(0, errors.New("building the request failed"))
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "tandem-aca")
	if ep.etag != "" {
		req.Header.Set("If-None-Match", ep.etag)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fail(0, stripURL(err))
	}
	defer resp.Body.Close()

	if resp.StatusCode == http.StatusNotModified {
		drain(resp.Body)
		if ep.etag == "" {
			// We sent no If-None-Match, so there is nothing to reuse.
			return fail(resp.StatusCode, errors.New("304 Not Modified to a request without If-None-Match"))
		}
		return pollResult{state: ep.last}
	}
	if err := checkHead(resp.StatusCode, resp.Header.Get("Content-Type")); err != nil {
		drain(resp.Body)
		if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
			ep.etag, ep.last = "", State{}
		}
		return fail(resp.StatusCode, err)
	}

	// From here on the endpoint sent a new representation: forget the old
	// ETag, so that a 304 never resurrects a state we refused.
	ep.etag, ep.last = "", State{}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	if err != nil {
		return fail(resp.StatusCode, fmt.Errorf("reading the body: %w", stripURL(err)))
	}
	st, err := ParseState(body)
	if err != nil {
		return fail(resp.StatusCode, err)
	}
	ep.etag, ep.last = resp.Header.Get("ETag"), st
	return pollResult{state: st}
}

// checkHead refuses an answer by its status and content type, before its
// body is read: a status other than 2xx, or an HTML error page that a proxy
// served with 200.
func checkHead(status int, contentType string) error {
	if status < 200 || status > 299 {
		return errors.New(strings.ToLower(http.StatusText(status)))
	}
	if contentType != "" {
		if mt, _, err := mime.ParseMediaType(contentType); err == nil && (mt == "text/html" || mt == "application/xhtml+xml") {
			return fmt.Errorf("%w: content type %s (an error page, not the ACA)", ErrInvalidState, mt)
		}
	}
	return nil
}

// readAnswer is what poll makes of a complete, non-304 answer: the checks of
// checkHead, then [ParseState]. The simulation feeds its judges' answers
// through it.
func readAnswer(status int, contentType string, body []byte) (State, error) {
	if err := checkHead(status, contentType); err != nil {
		return State{}, err
	}
	return ParseState(body)
}

// drain reads a little of an unwanted body so that the connection can be
// reused, without letting a huge body hold the round.
func drain(r io.Reader) { _, _ = io.Copy(io.Discard, io.LimitReader(r, 4<<10)) }

// stripURL drops the URL that net/http puts in its errors: it may carry a
// query token, and EndpointError names the endpoint safely already.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// errorType is the error.type attribute of a failed poll.
func errorType(e *EndpointError) string {
	var ne net.Error
	switch {
	case errors.Is(e.Err, context.DeadlineExceeded), errors.As(e.Err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(e.Err, ErrBodyTooLarge):
		return "body_too_large"
	case errors.Is(e.Err, ErrInvalidState):
		return "invalid_state"
	case e.Status != 0:
		return strconv.Itoa(e.Status)
	default:
		return "transport"
	}
}

// apply counts the answers of a round that started at start and updates
// the state. It returns nil when the round confirmed or changed the state.
func (c *Client) apply(start time.Time, results []pollResult) error {
	var errs []error
	answers := make([]State, len(results))
	for i, r := range results {
		ep := c.eps[i]
		if r.err != nil {
			errs = append(errs, r.err)
			c.m.pollErrors.Add(c.ctx, 1, metric.WithAttributes(c.m.with(
				attrEndpoint.String(ep.label), attrErrorType.String(errorType(r.err)))...))
			if !ep.failing {
				c.log.Warn("aca: endpoint failing", slog.String("endpoint", ep.label), slog.Any("error", r.err))
			}
			ep.failing = true
			continue
		}
		if ep.failing {
			c.log.Info("aca: endpoint recovered", slog.String("endpoint", ep.label))
		}
		ep.failing = false
		answers[i] = r.state
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	prev, wasKnown := c.view.state, c.view.known
	changed, roundErr := c.view.confirm(start, answers)
	if roundErr != nil {
		if len(errs) > 0 {
			roundErr = fmt.Errorf("%w: %w", roundErr, errors.Join(errs...))
		}
		if c.lastErr == nil || !sameKind(c.lastErr, roundErr) {
			c.log.Warn("aca: state not confirmed; keeping the current one", slog.Any("error", roundErr),
				slog.String("active", string(prev.Active)))
		}
		c.lastErr = roundErr
		return roundErr
	}
	c.lastErr = nil
	if !changed {
		return nil
	}
	winner := c.view.state
	if !wasKnown {
		close(c.ready)
	}
	c.m.changes.Add(c.ctx, 1, metric.WithAttributes(c.m.with(attrRegion.String(string(winner.Active)))...))
	c.log.Info("aca: state changed",
		slog.String("active", string(winner.Active)), slog.String("secondary", string(winner.Secondary)),
		slog.Uint64("epoch", winner.Epoch), slog.String("previous_active", string(prev.Active)))
	for w := range c.watchers {
		offer(w.ch, winner)
	}
	return nil
}

// offer puts s in ch, replacing an unread older state. Only apply sends, and
// it holds c.mu, so after the drain the send cannot find the buffer full.
func offer(ch chan State, s State) {
	select {
	case ch <- s:
		return
	default:
	}
	select {
	case <-ch:
	default:
	}
	select {
	case ch <- s:
	default:
	}
}

// describe lists the answers of a round, "-" for an endpoint that failed.
func describe(answers []State) string {
	parts := make([]string, len(answers))
	for i, a := range answers {
		if a.IsZero() {
			parts[i] = "-"
			continue
		}
		parts[i] = fmt.Sprintf("%s/%s@%d", a.Active, a.Secondary, a.Epoch)
	}
	return strings.Join(parts, ", ")
}

// sameKind reports whether two round errors wrap the same sentinel, to log a
// lasting failure once rather than every round.
func sameKind(a, b error) bool {
	for _, s := range []error{ErrAllEndpointsFailed, ErrNoMajority, ErrOlderEpoch} {
		if errors.Is(a, s) && errors.Is(b, s) {
			return true
		}
	}
	return false
}
