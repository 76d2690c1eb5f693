// Package httpx holds the HTTP rules that every Tandem client shares. Its
// first rule: a client never follows a redirect. The ACA judges and the
// Hopsworks REST servers are configured by URL; a 3xx that points anywhere
// else would carry a request (an API key, a write) to a host nobody
// configured, and a redirect to http:// would carry it in clear text.
// Even a redirect to the same host is refused: the configured URL is the
// one to fix.
//
// Public packages expose [RedirectError] under their own name with a type
// alias (type RedirectError = httpx.RedirectError), so that a caller can
// use errors.As with either name and gets the same type.
package httpx

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// RedirectError reports a redirect that the client refused to follow. From
// and To are the URL that answered and the Location it pointed to, both
// without user info, query or fragment, so the error is safe to log. Status
// is the 3xx status of the answer.
//
// An *http.Client made by [NoRedirects] returns it wrapped in a *url.Error;
// errors.As finds it there.
type RedirectError struct {
	From   string
	To     string
	Status int
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("redirect from %s to %s (status %d) refused: redirects are never followed; configure the target URL itself if it is right", e.From, e.To, e.Status)
}

// NoRedirects returns a shallow copy of c (a new default client when c is
// nil) whose CheckRedirect refuses every redirect with a *[RedirectError].
// The copy shares c's Transport, Jar and Timeout; c itself is not changed.
// The request that was refused is never sent: the target receives nothing.
func NoRedirects(c *http.Client) *http.Client {
	var out http.Client
	if c != nil {
		out = *c
	}
	out.CheckRedirect = refuse
	return &out
}

func refuse(req *http.Request, via []*http.Request) error {
	e := &RedirectError{To: Redact(req.URL)}
	if len(via) > 0 {
		e.From = Redact(via[len(via)-1].URL)
	}
	if req.Response != nil {
		e.Status = req.Response.StatusCode
	}
	return e
}

// IsRedirect reports whether err is or wraps a *[RedirectError].
func IsRedirect(err error) bool {
	var re *RedirectError
	return errors.As(err, &re)
}

// Redact returns u as scheme://host/path: without user info (a password),
// query (a token) or fragment. A nil u gives "".
func Redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return r.String()
}
