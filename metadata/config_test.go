package metadata

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNewValidates(t *testing.T) {
	good := func() Config {
		return Config{
			Local:   "EU",
			Regions: []RegionConfig{{ID: "eu", BaseURL: "https://eu.example.com/hopsworks-api/api/"}, {ID: "US", BaseURL: "https://us.example.com:8181/hopsworks-api/api"}},
			APIKey:  testKey,
			Project: "p",
		}
	}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"ok", func(*Config) {}, ""},
		{"no local", func(c *Config) { c.Local = "" }, "Local"},
		{"local not in regions", func(c *Config) { c.Local = "ap" }, "not in Regions"},
		{"no regions", func(c *Config) { c.Regions = nil }, "Regions is empty"},
		{"duplicate region", func(c *Config) {
			c.Regions = append(c.Regions, RegionConfig{ID: "Eu", BaseURL: "https://x/hopsworks-api/api"})
		}, "twice"},
		{"bad scheme", func(c *Config) { c.Regions[0].BaseURL = "ftp://x/api" }, "https://"},
		{"no host", func(c *Config) { c.Regions[0].BaseURL = "/hopsworks-api/api" }, "https://"},
		{"user info", func(c *Config) { c.Regions[0].BaseURL = "https://u:" + testKey + "@x/api" }, "user info"},
		{"query", func(c *Config) { c.Regions[0].BaseURL = "https://x/api?token=" + testKey }, "query"},
		{"http with an API key", func(c *Config) { c.Regions[1].BaseURL = "http://us.example.com/hopsworks-api/api" }, "clear text"},
		{"negative max state age", func(c *Config) { c.MaxStateAge = -time.Second }, "MaxStateAge"},
		{"no key", func(c *Config) { c.APIKey = "" }, "APIKey is empty"},
		{"key with newline", func(c *Config) { c.APIKey = "a\nb" }, "control"},
		{"no project", func(c *Config) { c.Project = " " }, "Project is empty"},
		{"project with slash", func(c *Config) { c.Project = "a/b" }, "not allowed"},
		{"negative timeout", func(c *Config) { c.Timeout = -1 }, "Timeout"},
		{"negative max body", func(c *Config) { c.MaxBodyBytes = -1 }, "MaxBodyBytes"},
		{"negative bound", func(c *Config) { c.ReadYourWritesBound = -time.Second }, "ReadYourWritesBound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good()
			tc.mod(&cfg)
			c, err := New(cfg)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				got := c.Config()
				if got.Local != "eu" || got.Timeout != DefaultTimeout || got.MaxBodyBytes != DefaultMaxBodyBytes ||
					got.ReadYourWritesBound != DefaultReadYourWritesBound || got.MaxStateAge != DefaultMaxStateAge ||
					got.Regions[1] != (RegionConfig{ID: "us", BaseURL: "https://us.example.com:8181/hopsworks-api/api"}) {
					t.Fatalf("normalized = %v", got)
				}
				if c.order[0] != "eu" || c.order[1] != "us" {
					t.Fatalf("order = %v", c.order)
				}
				c.Close()
				return
			}
			if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidArgument mentioning %q", err, tc.want)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Fatalf("error leaks the key: %v", err)
			}
		})
	}
}

func TestConfigRedacts(t *testing.T) {
	cfg := Config{Local: "eu", APIKey: testKey, Project: "p", Regions: []RegionConfig{{ID: "eu", BaseURL: "https://x/api?token=" + testKey}}}
	for _, s := range []string{cfg.String(), cfg.GoString(), cfg.LogValue().String()} {
		if strings.Contains(s, testKey) || !strings.Contains(s, "[REDACTED]") {
			t.Fatalf("not redacted: %s", s)
		}
	}
}

// TestInsecureHTTPNeedsTheOption: an http:// BaseURL is accepted only with
// AllowInsecureHTTP, since the API key would travel in clear text.
func TestInsecureHTTPNeedsTheOption(t *testing.T) {
	cfg := Config{Local: "eu", APIKey: testKey, Project: "p", Regions: []RegionConfig{{ID: "eu", BaseURL: "http://x/api"}}}
	if _, err := New(cfg); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("http without the option: err = %v", err)
	}
	cfg.AllowInsecureHTTP = true
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("http with the option: %v", err)
	}
	c.Close()
}

func TestBadArguments(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, "eu")
	ctx := ctxT(t)
	for name, call := range map[string]func() error{
		"empty name":   func() error { _, err := c.FeatureView(ctx, "", 1); return err },
		"version 0":    func() error { _, err := c.PreparedStatements(ctx, "fraud", 0, false); return err },
		"no query":     func() error { _, err := c.CreateFeatureView(ctx, FeatureViewSpec{Name: "x", Version: 1}); return err },
		"end < start":  func() error { _, err := c.BatchQuery(ctx, "fraud", 1, time.Unix(10, 0), time.Unix(5, 0)); return err },
		"bad region":   func() error { _, err := c.BatchQueryIn(ctx, "ap", "fraud", 1, time.Time{}, time.Time{}); return err },
		"empty region": func() error { _, err := c.BatchQueryIn(ctx, "", "fraud", 1, time.Time{}, time.Time{}); return err },
	} {
		if err := call(); !errors.Is(err, ErrInvalidArgument) || IsRetryable(err) {
			t.Errorf("%s: err = %v, want ErrInvalidArgument", name, err)
		}
	}
}
