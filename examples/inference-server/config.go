package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tandemfs/tandem/featurestore"
	"github.com/tandemfs/tandem/region"
)

// fileConfig is the JSON config file (-config) for a real two-region
// deployment. Secrets may stay out of it: TANDEM_API_KEY and
// TANDEM_MYSQL_PASSWORD override api_key and mysql_password.
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

// endpoints is where the server reads features from, and which view.
type endpoints struct {
	fs      featurestore.Config
	view    string
	version int
}

// loadConfigFile reads a JSON config strictly (unknown fields are errors,
// so a typo does not silently fall back to a default).
func loadConfigFile(path string, getenv func(string) string) (endpoints, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return endpoints{}, fmt.Errorf("config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var fc fileConfig
	if err := dec.Decode(&fc); err != nil {
		return endpoints{}, fmt.Errorf("config %s: %w", path, err)
	}
	return fc.endpoints(getenv)
}

func (fc fileConfig) endpoints(getenv func(string) string) (endpoints, error) {
	e := endpoints{fs: featurestore.Config{
		Local:         region.ID(fc.Local),
		Project:       fc.Project,
		ACAEndpoints:  fc.ACAEndpoints,
		ACAInterval:   time.Duration(fc.ACAInterval),
		APIKey:        fc.APIKey,
		MySQLUser:     fc.MySQLUser,
		MySQLPassword: fc.MySQLPassword,
	}}
	for _, r := range fc.Regions {
		e.fs.Regions = append(e.fs.Regions, featurestore.RegionConfig{
			ID: region.ID(r.ID), MySQL: r.MySQL, HopsworksURL: r.HopsworksURL,
		})
	}
	if fc.FeatureView != nil {
		e.view, e.version = fc.FeatureView.Name, fc.FeatureView.Version
	}
	if v := getenv("TANDEM_API_KEY"); v != "" {
		e.fs.APIKey = v
	}
	if v := getenv("TANDEM_MYSQL_PASSWORD"); v != "" {
		e.fs.MySQLPassword = v
	}
	return e, nil
}

// envConfigured reports whether the environment describes a deployment.
func envConfigured(getenv func(string) string) bool { return getenv("TANDEM_REGIONS") != "" }

// configFromEnv builds the config from environment variables:
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
//
// Region names are upper-cased in variable names (eu → TANDEM_MYSQL_EU).
func configFromEnv(getenv func(string) string) (endpoints, error) {
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
		return endpoints{}, errors.New("config: TANDEM_REGIONS is empty")
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
			return endpoints{}, fmt.Errorf("config: TANDEM_ACA_INTERVAL: %w", err)
		}
		fc.ACAInterval = duration(d)
	}
	if name := getenv("TANDEM_FEATURE_VIEW"); name != "" {
		fc.FeatureView = &fileViewConfig{Name: name, Version: 1}
		if s := getenv("TANDEM_FEATURE_VIEW_VERSION"); s != "" {
			if _, err := fmt.Sscan(s, &fc.FeatureView.Version); err != nil {
				return endpoints{}, fmt.Errorf("config: TANDEM_FEATURE_VIEW_VERSION %q is not a number", s)
			}
		}
	}
	return fc.endpoints(getenv)
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
