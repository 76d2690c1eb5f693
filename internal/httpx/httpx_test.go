package httpx

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestNoRedirects: a 307 or 308 to another host or to http:// is refused
// with a *RedirectError that names the target, and the target receives
// nothing: neither the request nor its body or Authorization header.
func TestNoRedirects(t *testing.T) {
	var otherHits atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
	}))
	defer other.Close()
	// "other" over TLS is the configured host; a Location with http:// and
	// the same host:port is a downgrade to clear text.
	for _, tc := range []struct {
		name   string
		status int
		target func(self string) string
	}{
		{"307 other host", http.StatusTemporaryRedirect, func(string) string { return other.URL + "/steal?token=x" }},
		{"308 other host", http.StatusPermanentRedirect, func(string) string { return other.URL + "/steal?token=x" }},
		{"307 to http", http.StatusTemporaryRedirect, func(self string) string { return strings.Replace(self, "https://", "http://", 1) + "/x" }},
		{"308 to http", http.StatusPermanentRedirect, func(self string) string { return strings.Replace(self, "https://", "http://", 1) + "/x" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var selfHits atomic.Int64
			var self *httptest.Server
			self = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if selfHits.Add(1) > 1 {
					t.Errorf("the redirect was followed to the same server: %s", r.URL)
				}
				http.Redirect(w, r, tc.target(self.URL), tc.status)
			}))
			defer self.Close()
			before := otherHits.Load()
			c := NoRedirects(self.Client())
			req, _ := http.NewRequest(http.MethodPost, self.URL+"/write", strings.NewReader("secret body"))
			req.Header.Set("Authorization", "ApiKey k")
			resp, err := c.Do(req)
			if resp != nil {
				resp.Body.Close()
			}
			var re *RedirectError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a *RedirectError", err)
			}
			if !IsRedirect(err) {
				t.Error("IsRedirect = false")
			}
			want, _ := url.Parse(tc.target(self.URL))
			if re.To != Redact(want) || re.Status != tc.status || re.From != self.URL+"/write" {
				t.Errorf("RedirectError = %+v, want To %s, status %d, From %s", re, Redact(want), tc.status, self.URL+"/write")
			}
			if strings.Contains(re.Error(), "token") {
				t.Errorf("message leaks the query: %s", re.Error())
			}
			if n := otherHits.Load() - before; n != 0 {
				t.Errorf("the other server received %d requests", n)
			}
		})
	}
	c0 := &http.Client{}
	_ = NoRedirects(c0)
	if c0.CheckRedirect != nil {
		t.Error("NoRedirects changed the client it was given")
	}
	if NoRedirects(nil).CheckRedirect == nil {
		t.Error("NoRedirects(nil) has no CheckRedirect")
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://u:p@h:1/a/b?token=x#f": "https://h:1/a/b",
		"http://h/":                     "http://h/",
		"/relative?x":                   "/relative",
	} {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := Redact(u); got != want {
			t.Errorf("Redact(%s) = %s, want %s", in, got, want)
		}
	}
	if Redact(nil) != "" {
		t.Error("Redact(nil) != \"\"")
	}
}
