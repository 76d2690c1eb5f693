package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestQuickstart runs the demo with short phases: it must pass, and say
// so. Under -race the sandbox answers ~10× slower (a lookup's p50 was
// 70 ms), so the phases are longer: with 600 ms ones the revived eu had no
// time to pass its probation on a busy CI machine, and the demo rightly
// reported that traffic did not return to eu.
func TestQuickstart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	phase, tick := "600ms", "300ms"
	if raceDetector {
		phase, tick = "3s", "1s"
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"-phase", phase, "-tick", tick, "-rate", "200"}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"accepted by eu", "accepted by us", "\nPASS: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBadFlags(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-workers", "0"}, &out); err == nil {
		t.Error("run with -workers 0: no error")
	}
}
