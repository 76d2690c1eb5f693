package mariadbtest

import (
	"os"
	"strconv"
	"sync"
	"testing"
)

// Start launches n servers in parallel for a test and stops them all in
// t.Cleanup. If MariaDB is not installed it skips the test, except under
// CI=true, where it fails it: CI must never pass by skipping. If opts.Logf is
// nil, lifecycle events go to t.Logf.
func Start(t testing.TB, n int, opts Options) []*Server {
	t.Helper()
	if err := Available(); err != nil {
		if mustFail(os.Getenv) {
			t.Fatalf("%v (CI is set, so this fails instead of skipping)", err)
		}
		t.Skipf("%v; skipping (set CI=true to make this a failure)", err)
	}
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	servers := make([]*Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { servers[i], errs[i] = Launch(t.Context(), opts) })
	}
	wg.Wait()
	// Stop in parallel too: a graceful shutdown takes most of a second.
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, s := range servers {
			if s != nil {
				wg.Go(func() {
					if err := s.Stop(); err != nil {
						t.Errorf("stop %s: %v", s.Addr(), err)
					}
				})
			}
		}
		wg.Wait()
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return servers
}

// mustFail decides what a missing MariaDB means: true (fail) under CI,
// false (skip) elsewhere. CI=true is what GitHub Actions, GitLab and most
// others set; any value strconv.ParseBool reads as true counts.
func mustFail(getenv func(string) string) bool {
	ci, err := strconv.ParseBool(getenv("CI"))
	return err == nil && ci
}
