package aca

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tandemfs/tandem/region"
)

// DefaultCheckInterval is how often, at most, a [Handler] looks at its file.
const DefaultCheckInterval = time.Second

// StaleHeader is set on a [Handler]'s responses while the file is invalid or
// unreadable and the handler serves the last good state. Its value is a
// short reason without the path.
const StaleHeader = "Tandem-Aca-Stale"

// Handler serves an ACA state from a JSON file, so that the active region
// can be switched by a commit (GitOps). It answers GET and HEAD with the
// body {"active": ..., "secondary": ...} (and "epoch" when non-zero),
// Content-Type application/json, an ETag and Cache-Control: no-cache, and
// 304 to a matching If-None-Match.
//
// The file is checked on a request, at most once per check interval, so the
// handler runs no goroutine and needs no Close. When the new content is
// invalid or the file is gone, it keeps serving the last good state, sets
// [StaleHeader], logs once, and [Handler.LastError] reports why.
//
// A Handler is safe for concurrent use. Use [NewHandler]; the zero value is
// not usable.
type Handler struct {
	path     string
	interval time.Duration
	log      *slog.Logger
	clock    region.Clock // tests set a fake one

	mu        sync.Mutex
	checked   time.Time // when the file was last read
	raw       []byte    // the file content last read, valid or not
	state     State     // the last good state
	body      []byte    // its encoded form
	etag      string    // its strong ETag
	lastErr   error     // why the file's current content is not served
	staleNote string    // the StaleHeader value; "" when fresh
}

// HandlerOption sets how a [Handler] works. Options fill a settings
// struct that [NewHandler] validates and copies; they never touch a Handler.
type HandlerOption func(*handlerOptions)

type handlerOptions struct {
	interval time.Duration
	log      *slog.Logger
}

// WithCheckInterval sets the least time between two looks at the file; 0
// looks on every request. Default: [DefaultCheckInterval].
func WithCheckInterval(d time.Duration) HandlerOption {
	return func(o *handlerOptions) { o.interval = d }
}

// WithHandlerLogger logs reloads and invalid files to l. Default: no
// logging.
func WithHandlerLogger(l *slog.Logger) HandlerOption {
	return func(o *handlerOptions) { o.log = l }
}

// NewHandler reads and parses the file at path and returns a Handler that
// serves it. It fails when the file cannot be read or is not a valid state
// ([ParseState]): a server should not start without a good state.
func NewHandler(path string, opts ...HandlerOption) (*Handler, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: empty state file path", ErrInvalidConfig)
	}
	o := handlerOptions{interval: DefaultCheckInterval}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.interval < 0 {
		return nil, fmt.Errorf("%w: check interval %v is negative", ErrInvalidConfig, o.interval)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{path: path, interval: o.interval, log: o.log, clock: region.SystemClock{}}
	raw, err := readCapped(path)
	if err != nil {
		return nil, fmt.Errorf("aca: reading the state file: %w", err)
	}
	st, err := ParseState(raw)
	if err != nil {
		return nil, fmt.Errorf("aca: state file %s: %w", path, err)
	}
	h.raw = raw
	h.checked = h.clock.Now()
	h.setState(st)
	return h, nil
}

// State returns the state being served.
func (h *Handler) State() State {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state
}

// LastError reports why the file's current content is not served (it is
// invalid, wrapping [ErrInvalidState], or unreadable, wrapping e.g.
// fs.ErrNotExist), as of the last look at the file; nil when it is served.
func (h *Handler) LastError() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastErr
}

// ServeHTTP implements [http.Handler].
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h.mu.Lock()
	h.checkLocked()
	body, etag, stale := h.body, h.etag, h.staleNote
	h.mu.Unlock()

	hd := w.Header()
	hd.Set("ETag", etag)
	// Caches may keep the body but must ask again each time: a cached
	// state that outlives a flip is exactly what the ACA must not do.
	hd.Set("Cache-Control", "no-cache")
	if stale != "" {
		hd.Set(StaleHeader, stale)
	}
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// checkLocked re-reads the file if the check interval has passed. Reading a
// file this small is as cheap as a stat, and comparing the bytes catches
// every change, even one that keeps the size and lands in the same mtime
// tick.
func (h *Handler) checkLocked() {
	now := h.clock.Now()
	if h.interval > 0 && now.Sub(h.checked) < h.interval {
		return
	}
	h.checked = now
	raw, err := readCapped(h.path)
	if err != nil {
		h.failLocked(err, "file unreadable", nil)
		return
	}
	if bytes.Equal(raw, h.raw) && h.lastErr == nil {
		return
	}
	st, err := ParseState(raw)
	if err != nil {
		h.failLocked(err, "file invalid", raw)
		return
	}
	h.raw = raw
	if h.lastErr != nil {
		h.log.Info("aca: state file is valid again", slog.String("path", h.path))
	}
	if !st.Equal(h.state) {
		h.log.Info("aca: serving a new state", slog.String("path", h.path),
			slog.String("active", string(st.Active)), slog.String("secondary", string(st.Secondary)),
			slog.Uint64("epoch", st.Epoch))
	}
	h.setState(st)
}

// failLocked records a bad look at the file and logs it once per distinct
// content, not once per request.
func (h *Handler) failLocked(err error, note string, raw []byte) {
	if h.lastErr == nil || !bytes.Equal(raw, h.raw) {
		h.log.Warn("aca: serving the last good state", slog.String("path", h.path), slog.Any("error", err),
			slog.String("active", string(h.state.Active)))
	}
	h.raw = raw
	h.lastErr = err
	h.staleNote = note
}

func (h *Handler) setState(st State) {
	h.state = st
	h.body = encodeState(st)
	sum := sha256.Sum256(h.body)
	h.etag = `"` + hex.EncodeToString(sum[:12]) + `"`
	h.lastErr = nil
	h.staleNote = ""
}

// readCapped reads at most MaxBodyBytes+1 bytes of path, so that ParseState
// sees an oversized file as oversized.
func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, MaxBodyBytes+1))
}

// etagMatch implements the weak comparison of If-None-Match (RFC 9110
// §13.1.2): "*" or any listed tag equal to ours once W/ is dropped.
func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == strings.TrimPrefix(etag, "W/") {
			return true
		}
	}
	return false
}

var _ http.Handler = (*Handler)(nil)
