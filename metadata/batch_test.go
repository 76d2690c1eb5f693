package metadata

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/hopsworkstest"
)

func TestBatchQueryGoesToActiveRegion(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, "us") // local us is passive
	ctx := ctxT(t)
	start, end := time.UnixMilli(1700000000000), time.UnixMilli(1700003600000)
	bq, err := c.BatchQuery(ctx, "fraud", 1, start, end)
	if err != nil {
		t.Fatal(err)
	}
	if bq.Region != "eu" || bq.Query == "" {
		t.Fatalf("batch query = %+v", bq)
	}
	if !e.eu.VerifySignature(bq.HQSPayload, bq.HQSPayloadSignature) {
		t.Fatal("signature does not verify with the active region's server")
	}
	if e.us.VerifySignature(bq.HQSPayload, bq.HQSPayloadSignature) {
		t.Fatal("signature verifies with the other region's secret")
	}
	var p hopsworkstest.BatchPayload
	if err := json.Unmarshal([]byte(bq.HQSPayload), &p); err != nil {
		t.Fatal(err)
	}
	if p.FeatureView != "fraud" || p.Version != 1 || p.StartTime != start.UnixMilli() || p.EndTime != end.UnixMilli() || p.Region != "eu" {
		t.Fatalf("payload = %+v", p)
	}
	for _, r := range e.us.Requests() {
		if strings.HasSuffix(r.Path, "/query/batch") || strings.HasSuffix(r.Path, "/featurestores/query") {
			t.Fatalf("batch query reached the passive region: %+v", r)
		}
	}
	// Both steps, as hsfs sends them, went to the active region.
	var steps []string
	for _, r := range e.eu.Requests() {
		switch {
		case r.Method == "GET" && strings.HasSuffix(r.Path, "/featureview/fraud/version/1/query/batch"):
			steps = append(steps, "GET batch "+r.Query)
		case r.Method == "PUT" && r.Path == "/project/119/featurestores/query":
			steps = append(steps, "PUT query "+r.Query)
		}
	}
	if len(steps) != 2 || steps[0] != "GET batch end_time=1700003600000&start_time=1700000000000" || steps[1] != "PUT query hqs=true" {
		t.Fatalf("steps in eu: %q", steps)
	}
	var q map[string]any
	if err := json.Unmarshal(bq.QueryDTO, &q); err != nil || q["leftFeatureGroup"] == nil {
		t.Fatalf("QueryDTO %s: %v", bq.QueryDTO, err)
	}

	// The active region is down: no fallback to the passive one.
	e.eu.SetFault(hopsworkstest.FaultUnavailable)
	if _, err := c.BatchQuery(ctx, "fraud", 1, start, end); err == nil {
		t.Fatal("batch query fell back to the passive region")
	}
	e.eu.SetFault(hopsworkstest.FaultNone)

	// Pinned to a region the caller chose.
	bq, err = c.BatchQueryIn(ctx, "US", "fraud", 1, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if bq.Region != "us" || !e.us.VerifySignature(bq.HQSPayload, bq.HQSPayloadSignature) {
		t.Fatalf("pinned batch query = %+v", bq)
	}
}
