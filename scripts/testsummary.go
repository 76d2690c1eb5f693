//go:build ignore

// Command testsummary reads `go test -json` on stdin and prints what plain
// `go test` prints (each package's ok/FAIL line, the output of failed
// tests, build errors), then every skipped test grouped by its reason, so
// that no test is skipped silently. scripts/test pipes into it:
//
//	go test -json ./... | go run scripts/testsummary.go
//
// It exits 1 when a test or a build failed, or when the input is not
// test2json output.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of test2json output (go doc test2json).
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output, build-fail
	Test       string
	Output     string
}

type key struct{ pkg, test string }

type summary struct {
	out     io.Writer
	logs    map[key][]string // each running test's output so far
	skipped map[string][]key // by reason
	nskip   int
	failed  bool
}

func main() {
	s := &summary{out: os.Stdout, logs: map[key][]string{}, skipped: map[string][]key{}}
	if err := s.read(os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(1)
	}
	s.report()
	if s.failed {
		os.Exit(1)
	}
}

func (s *summary) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Not an event (e.g. a go command message): pass it on.
			fmt.Fprintln(s.out, string(line))
			continue
		}
		s.event(e)
	}
	return sc.Err()
}

func (s *summary) event(e event) {
	k := key{e.Package, e.Test}
	switch {
	case e.Action == "build-output":
		fmt.Fprint(s.out, e.Output)
	case e.Action == "build-fail":
		s.failed = true
	case e.Test == "":
		// Package level: "ok  pkg 1.2s", "FAIL", "PASS", panics outside
		// a test: go test prints these as they are.
		if e.Action == "output" {
			fmt.Fprint(s.out, e.Output)
		}
		if e.Action == "fail" {
			s.failed = true
			s.flush(e.Package)
		}
	case e.Action == "output":
		// go test without -v prints no "=== RUN" lines; neither do we.
		if !strings.HasPrefix(e.Output, "=== ") {
			s.logs[k] = append(s.logs[k], e.Output)
		}
	case e.Action == "fail":
		s.failed = true
		for _, l := range s.logs[k] {
			fmt.Fprint(s.out, l)
		}
		delete(s.logs, k)
	case e.Action == "skip":
		r := reason(s.logs[k])
		s.skipped[r] = append(s.skipped[r], k)
		s.nskip++
		delete(s.logs, k)
	case e.Action == "pass":
		delete(s.logs, k)
	}
}

// flush prints the output of pkg's tests that never ended, e.g. the one
// running when the test binary panicked or timed out.
func (s *summary) flush(pkg string) {
	var ks []key
	for k := range s.logs {
		if k.pkg == pkg {
			ks = append(ks, k)
		}
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].test < ks[j].test })
	for _, k := range ks {
		for _, l := range s.logs[k] {
			fmt.Fprint(s.out, l)
		}
		delete(s.logs, k)
	}
}

// reason is what a skipped test logged: its t.Skip message, without the
// file:line prefix and the "--- SKIP" and "=== RUN" lines.
func reason(lines []string) string {
	var parts []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		if i := strings.Index(t, ": "); i > 0 && strings.Contains(t[:i], ".go:") {
			t = t[i+2:]
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " / ")
}

func (s *summary) report() {
	if s.nskip == 0 {
		fmt.Fprintln(s.out, "skipped: none")
		return
	}
	fmt.Fprintf(s.out, "skipped: %d test(s), by reason:\n", s.nskip)
	reasons := make([]string, 0, len(s.skipped))
	for r := range s.skipped {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool {
		a, b := len(s.skipped[reasons[i]]), len(s.skipped[reasons[j]])
		return a > b || a == b && reasons[i] < reasons[j]
	})
	for _, r := range reasons {
		ks := s.skipped[r]
		names := make([]string, 0, len(ks))
		for _, k := range ks {
			names = append(names, shortPkg(k.pkg)+"."+k.test)
		}
		sort.Strings(names)
		const show = 4
		list := strings.Join(names[:min(show, len(names))], ", ")
		if len(names) > show {
			list += fmt.Sprintf(" and %d more", len(names)-show)
		}
		fmt.Fprintf(s.out, "  %3d  %s\n       (%s)\n", len(ks), r, list)
	}
}

// shortPkg drops the module prefix: github.com/tandemfs/tandem/online → online.
func shortPkg(p string) string {
	p = strings.TrimPrefix(p, "github.com/tandemfs/tandem/")
	return strings.TrimPrefix(p, "github.com/tandemfs/tandem")
}
