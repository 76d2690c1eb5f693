package featurestore_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/featurestore"
	"github.com/tandemfs/tandem/internal/hopsworkstest"
	"github.com/tandemfs/tandem/metadata"
	"github.com/tandemfs/tandem/region"
)

// TestCredentialDiscovery: with no MySQL servers and no password in the
// Config, each region's online store is found through that region's
// onlinefeaturestore connector; as an external client, through the host
// of the loadbalancer_external_domain_mysqld variable (the connector's
// host does not resolve). New does no I/O, and the password reaches no
// log, error or String.
func TestCredentialDiscovery(t *testing.T) {
	e := newEnv(t)
	const user, pw = "reader", "disc0very-s3cret"
	hw := map[region.ID]*hopsworkstest.Server{}
	for _, r := range []region.ID{"eu", "us"} {
		if err := e.db[r].CreateUser(ctxT(t, 10*time.Second), user, pw, "SELECT ON tandem.*"); err != nil {
			t.Fatal(err)
		}
		host, port, err := net.SplitHostPort(e.db[r].ClientAddr())
		if err != nil {
			t.Fatal(err)
		}
		s := hopsworkstest.New(hopsworkstest.Options{Region: r, Active: r == "eu", Store: e.store,
			OnlineStore: &hopsworkstest.OnlineStoreDef{Addr: "mysqld-" + string(r) + ".internal.invalid:" + port, User: user, Password: pw},
			Variables:   map[string]string{metadata.ExternalMySQLVariable: host}})
		t.Cleanup(s.Close)
		hw[r] = s
	}
	cfg := e.config("eu")
	cfg.External = true
	for i := range cfg.Regions {
		cfg.Regions[i].MySQL = nil
		cfg.Regions[i].HopsworksURL = hw[cfg.Regions[i].ID].URL()
	}
	var logs bytes.Buffer
	c := newClient(t, cfg, featurestore.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if c.Online() != nil {
		t.Fatal("New discovered the online store: it must do no I/O")
	}
	for _, s := range hw {
		if n := len(s.Requests()); n != 0 {
			t.Fatalf("New sent %d requests", n)
		}
	}
	fv := mustView(t, c, viewName, 1)
	for _, r := range []region.ID{"eu", "us"} {
		v, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), entry(3), featurestore.Pin(r))
		if err != nil {
			t.Fatal(err)
		}
		checkVector(t, v, 3, r)
	}
	if err := c.Ping(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{logs.String(), cfg.String(), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%+v", c.Online().Stats())} {
		if strings.Contains(s, pw) {
			t.Fatalf("the password leaks: %s", s)
		}
	}

	// A connector whose password the server refuses fails the load with
	// an error that does not carry it, and a second client's load retries.
	bad := hopsworkstest.New(hopsworkstest.Options{Region: "eu", Active: true, Store: e.store,
		OnlineStore: &hopsworkstest.OnlineStoreDef{Addr: e.db["eu"].ClientAddr(), User: user, Password: "wr0ng-s3cret"}})
	t.Cleanup(bad.Close)
	cfg2 := e.config("eu")
	cfg2.Regions = cfg2.Regions[:1]
	cfg2.Regions[0].MySQL, cfg2.Regions[0].HopsworksURL = nil, bad.URL()
	cfg2.ACAEndpoints = nil
	c2 := newClient(t, cfg2)
	fv2, err := c2.FeatureView(ctxT(t, 10*time.Second), viewName, 1)
	if err == nil {
		_, err = fv2.GetFeatureVector(ctxT(t, 5*time.Second), entry(1))
	}
	if err == nil || strings.Contains(err.Error(), "wr0ng-s3cret") {
		t.Fatalf("refused login: %v", err)
	}
	t.Log(err)

	// No connector at all: the load fails with metadata's not-found.
	none := hopsworkstest.New(hopsworkstest.Options{Region: "eu", Active: true, Store: e.store})
	t.Cleanup(none.Close)
	cfg2.Regions[0].HopsworksURL = none.URL()
	c3 := newClient(t, cfg2)
	if _, err := c3.FeatureView(ctxT(t, 10*time.Second), viewName, 1); !errors.Is(err, featurestore.ErrNotFound) {
		t.Fatalf("no connector: %v", err)
	}
}
