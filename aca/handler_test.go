package aca

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	// Write and rename, as a GitOps sync does, so a reader never sees half
	// a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, h http.Handler, inm string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if inm != "" {
		r.Header.Set("If-None-Match", inm)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func bodyOf(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHandlerServesAndReloads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aca.json")
	writeFile(t, path, `{"active": "EU", "secondary": "us", "comment": "set by ops"}`)
	h, err := NewHandler(path, WithCheckInterval(0))
	if err != nil {
		t.Fatal(err)
	}

	resp := get(t, h, "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	etag := resp.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || resp.Header.Get(StaleHeader) != "" {
		t.Fatalf("ETag %q, stale %q", etag, resp.Header.Get(StaleHeader))
	}
	if st, err := ParseState([]byte(bodyOf(t, resp))); err != nil || !st.Equal(euState) {
		t.Fatalf("served %+v, %v; want eu", st, err)
	}

	if resp := get(t, h, etag); resp.StatusCode != http.StatusNotModified || bodyOf(t, resp) != "" {
		t.Fatalf("matching If-None-Match: status %d, want 304 without body", resp.StatusCode)
	}
	if resp := get(t, h, `"other", W/`+etag); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("weak match in a list: status %d, want 304", resp.StatusCode)
	}

	// A change of the file is served, with a new ETag.
	writeFile(t, path, usBody)
	resp = get(t, h, etag)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == etag {
		t.Fatalf("after the file changed: status %d, ETag %q (old %q)", resp.StatusCode, resp.Header.Get("ETag"), etag)
	}
	if st, _ := ParseState([]byte(bodyOf(t, resp))); !st.Equal(usState) || !h.State().Equal(usState) {
		t.Fatalf("after the file changed served %+v, want us", st)
	}
	goodETag := resp.Header.Get("ETag")

	// Invalid contents: the last good state stays, and it is reported.
	for _, bad := range []string{"", "<html>oops</html>", `{"active":"us","secondary":"us"}`, `{"active": "eu"`} {
		writeFile(t, path, bad)
		resp := get(t, h, "")
		st, _ := ParseState([]byte(bodyOf(t, resp)))
		if resp.StatusCode != http.StatusOK || !st.Equal(usState) || resp.Header.Get("ETag") != goodETag {
			t.Fatalf("file %q: served %d %+v, want the last good state us", bad, resp.StatusCode, st)
		}
		if resp.Header.Get(StaleHeader) == "" || !errors.Is(h.LastError(), ErrInvalidState) {
			t.Fatalf("file %q: stale header %q, LastError %v; want both to report it", bad, resp.Header.Get(StaleHeader), h.LastError())
		}
	}

	// A missing file (mid-sync) is reported and the last good state stays.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if resp := get(t, h, ""); resp.StatusCode != http.StatusOK || !errors.Is(h.LastError(), fs.ErrNotExist) {
		t.Fatalf("missing file: status %d, LastError %v", resp.StatusCode, h.LastError())
	}

	// A good file again clears the report.
	writeFile(t, path, euBody)
	resp = get(t, h, "")
	if st, _ := ParseState([]byte(bodyOf(t, resp))); !st.Equal(euState) || h.LastError() != nil || resp.Header.Get(StaleHeader) != "" {
		t.Fatalf("recovered file: served %+v, LastError %v", st, h.LastError())
	}
}

func TestHandlerCheckInterval(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aca.json")
	writeFile(t, path, euBody)
	h, err := NewHandler(path, WithCheckInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	clk := newFakeClock()
	h.clock, h.checked = clk, clk.Now()
	writeFile(t, path, usBody)
	if !h.State().Equal(euState) || bodyOf(t, get(t, h, "")) != string(encodeState(euState)) {
		t.Fatal("file re-read before the check interval passed")
	}
	clk.Advance(time.Hour)
	if bodyOf(t, get(t, h, "")) != string(encodeState(usState)) {
		t.Fatal("file not re-read after the check interval")
	}
}

func TestNewHandlerRefuses(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	writeFile(t, bad, "<html></html>")
	for name, path := range map[string]string{"empty path": "", "missing": filepath.Join(dir, "nope.json"), "invalid": bad} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewHandler(path); err == nil || !strings.HasPrefix(err.Error(), "aca: ") {
				t.Fatalf("NewHandler(%q) = %v, want an aca: error", path, err)
			}
		})
	}
	good := filepath.Join(dir, "good.json")
	writeFile(t, good, euBody)
	if _, err := NewHandler(good, WithCheckInterval(-time.Second)); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("negative check interval: %v", err)
	}
}

func TestHandlerMethods(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aca.json")
	writeFile(t, path, euBody)
	h, err := NewHandler(path)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(usBody)))
	if w.Code != http.StatusMethodNotAllowed || h.State() != euState {
		t.Fatalf("POST: %d", w.Code)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodHead, "/", nil))
	if w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Content-Length") == "" {
		t.Fatalf("HEAD: %d, body %q", w.Code, w.Body.String())
	}
}

// The Client and the Handler speak the same protocol, ETags included.
func TestHandlerWithClient(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aca.json")
	writeFile(t, path, euBody)
	h, err := NewHandler(path, WithCheckInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	var notModified atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code == http.StatusNotModified {
			notModified.Add(1)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	defer srv.Close()
	c := newTestClient(t, Config{Endpoints: []string{srv.URL}})
	waitReady(t, c)
	refresh(t, c)
	if notModified.Load() == 0 {
		t.Fatal("the client's second poll did not get a 304 from the handler")
	}
	writeFile(t, path, usBody)
	if st := refresh(t, c); !st.Equal(usState) {
		t.Fatalf("client saw %+v after the file flipped, want us", st)
	}
	writeFile(t, path, "<html>")
	if st := refresh(t, c); !st.Equal(usState) || c.LastError() != nil {
		t.Fatalf("client saw %+v, %v after the file broke; want the handler's last good state", st, c.LastError())
	}
}
