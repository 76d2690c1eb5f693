// Package config reads where a Tandem example program finds its
// two-region feature store: a JSON file (-config) or TANDEM_* environment
// variables. The inference server and the tandem CLI share it, so one file
// serves both.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tandemfs/tandem/featurestore"
	"github.com/tandemfs/tandem/region"
)

// fileConfig is the JSON config file (-config) for a real two-region
// deployment. Secrets may stay out of it: TANDEM_API_KEY and
// TANDEM_MYSQL_PASSWORD override api_key and mysql_password.
// allow_insecure_http (TANDEM_ALLOW_INSECURE_HTTP=true) lets the API key
// travel over http:// Hopsworks URLs, for test setups on loopback only.
//
//	{
//	  "local": "eu",
//	  "project": "fraud",
//	  "regions": [
//	    {"id": "eu", "mysql": ["rondb-eu-1:3306", "rondb-eu-2:3306"],
//	     "hopsworks_url": "https://eu.hopsworks.example.com/hopsworks-api/api"},
//	    {"id": "us", "mysql": ["rondb-us-1:3306"],
//	     "hopsworks_url": "https://us.hopsworks.example.com/hopsworks-api/api"}
//	  ],
//	  "aca_endpoints": ["https://aca-eu.example.com/", "https://aca-us.example.com/", "https://aca-3.example.com/"],
//	  "aca_interval": "1s",
//	  "mysql_user": "fraud_reader",
//	  "feature_view": {"name": "fraud_features", "version": 1}
//	}
type fileConfig struct {
	Local         string          `json:"local"`
	Project       string          `json:"project"`
	Regions       []fileRegion    `json:"regions"`
	ACAEndpoints  []string        `json:"aca_endpoints"`
	ACAInterval   duration        `json:"aca_interval,omitempty"`
	APIKey        string          `json:"api_key,omitempty"`
	MySQLUser     string          `json:"mysql_user,omitempty"`
	MySQLPassword string          `json:"mysql_password,omitempty"`
	FeatureView   *fileViewConfig `json:"feature_view,omitempty"`
	AllowInsecure bool            `json:"allow_insecure_http,omitempty"`
}

type fileRegion struct {
	ID           string   `json:"id"`
	MySQL        []string `json:"mysql"`
	HopsworksURL string   `json:"hopsworks_url"`
}

type fileViewConfig struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
}

// duration is a time.Duration written as a Go duration string ("1s").
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"1s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = duration(v)
	return nil
}

// Deployment is where to read features from, and which feature view.
type Deployment struct {
	FeatureStore featurestore.Config
	// View and Version name the feature view; "" and 0 when the config
	// names none.
	View    string
	Version int
}

// LoadFile reads a JSON config file strictly (unknown fields are errors,
// so a typo does not silently fall back to a default); getenv (os.Getenv)
// supplies the secrets that override the file's.
func LoadFile(path string, getenv func(string) string) (Deployment, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Deployment{}, fmt.Errorf("config: %w", err)
	}
	return Parse(b, getenv)
}

// Parse decodes a JSON config (see LoadFile).
func Parse(b []byte, getenv func(string) string) (Deployment, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var fc fileConfig
	if err := dec.Decode(&fc); err != nil {
		return Deployment{}, fmt.Errorf("config: %w", err)
	}
	if dec.More() {
		return Deployment{}, errors.New("config: more than one JSON value")
	}
	return fc.deployment(getenv)
}

func (fc fileConfig) deployment(getenv func(string) string) (Deployment, error) {
	e := Deployment{FeatureStore: featurestore.Config{
		Local:             region.ID(fc.Local),
		Project:           fc.Project,
		ACAEndpoints:      fc.ACAEndpoints,
		ACAInterval:       time.Duration(fc.ACAInterval),
		APIKey:            fc.APIKey,
		MySQLUser:         fc.MySQLUser,
		MySQLPassword:     fc.MySQLPassword,
		AllowInsecureHTTP: fc.AllowInsecure,
	}}
	for _, r := range fc.Regions {
		e.FeatureStore.Regions = append(e.FeatureStore.Regions, featurestore.RegionConfig{
			ID: region.ID(r.ID), MySQL: r.MySQL, HopsworksURL: r.HopsworksURL,
		})
	}
	if fc.FeatureView != nil {
		e.View, e.Version = fc.FeatureView.Name, fc.FeatureView.Version
	}
	if v := getenv("TANDEM_API_KEY"); v != "" {
		e.FeatureStore.APIKey = v
	}
	if v := getenv("TANDEM_MYSQL_PASSWORD"); v != "" {
		e.FeatureStore.MySQLPassword = v
	}
	return e, nil
}

// EnvConfigured reports whether the environment describes a deployment
// (TANDEM_REGIONS is set).
func EnvConfigured(getenv func(string) string) bool { return getenv("TANDEM_REGIONS") != "" }

// FromEnv builds the config from environment variables:
//
//	TANDEM_REGIONS=eu,us                 the regions (required)
//	TANDEM_LOCAL_REGION=eu               this process's region (default: the first)
//	TANDEM_MYSQL_EU=h1:3306,h2:3306      each region's MySQL servers (RonDB MySQL API nodes)
//	TANDEM_HOPSWORKS_URL_EU=https://...  each region's Hopsworks REST base, ending in /hopsworks-api/api
//	TANDEM_ACA_ENDPOINTS=url1,url2,url3  the ACA URLs
//	TANDEM_ACA_INTERVAL=1s               ACA poll interval
//	TANDEM_PROJECT=fraud                 the Hopsworks project
//	TANDEM_API_KEY=...                   the Hopsworks API key
//	TANDEM_MYSQL_USER, TANDEM_MYSQL_PASSWORD
//	TANDEM_FEATURE_VIEW=fraud_features, TANDEM_FEATURE_VIEW_VERSION=1
//	TANDEM_ALLOW_INSECURE_HTTP=true      allow http:// Hopsworks URLs (loopback tests only)
//
// Region names are upper-cased in variable names (eu → TANDEM_MYSQL_EU).
func FromEnv(getenv func(string) string) (Deployment, error) {
	fc := fileConfig{
		Local:         getenv("TANDEM_LOCAL_REGION"),
		Project:       getenv("TANDEM_PROJECT"),
		ACAEndpoints:  splitList(getenv("TANDEM_ACA_ENDPOINTS")),
		MySQLUser:     getenv("TANDEM_MYSQL_USER"),
		MySQLPassword: getenv("TANDEM_MYSQL_PASSWORD"),
		APIKey:        getenv("TANDEM_API_KEY"),
	}
	ids := splitList(getenv("TANDEM_REGIONS"))
	if len(ids) == 0 {
		return Deployment{}, errors.New("config: TANDEM_REGIONS is empty")
	}
	if fc.Local == "" {
		fc.Local = ids[0]
	}
	for _, id := range ids {
		suffix := strings.ToUpper(strings.ReplaceAll(id, "-", "_"))
		fc.Regions = append(fc.Regions, fileRegion{
			ID:           id,
			MySQL:        splitList(getenv("TANDEM_MYSQL_" + suffix)),
			HopsworksURL: getenv("TANDEM_HOPSWORKS_URL_" + suffix),
		})
	}
	if s := getenv("TANDEM_ACA_INTERVAL"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return Deployment{}, fmt.Errorf("config: TANDEM_ACA_INTERVAL: %w", err)
		}
		fc.ACAInterval = duration(d)
	}
	if name := getenv("TANDEM_FEATURE_VIEW"); name != "" {
		fc.FeatureView = &fileViewConfig{Name: name, Version: 1}
		if s := getenv("TANDEM_FEATURE_VIEW_VERSION"); s != "" {
			if _, err := fmt.Sscan(s, &fc.FeatureView.Version); err != nil {
				return Deployment{}, fmt.Errorf("config: TANDEM_FEATURE_VIEW_VERSION %q is not a number", s)
			}
		}
	}
	if s := getenv("TANDEM_ALLOW_INSECURE_HTTP"); s != "" {
		v, err := strconv.ParseBool(s)
		if err != nil {
			return Deployment{}, fmt.Errorf("config: TANDEM_ALLOW_INSECURE_HTTP %q is not a boolean", s)
		}
		fc.AllowInsecure = v
	}
	return fc.deployment(getenv)
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
