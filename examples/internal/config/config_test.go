package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goodFile = `{
	"local": "eu", "project": "fraud",
	"regions": [
		{"id": "eu", "mysql": ["rondb-eu-1:3306", "rondb-eu-2:3306"], "hopsworks_url": "https://eu.example.com/hopsworks-api/api"},
		{"id": "us", "mysql": ["rondb-us-1:3306"], "hopsworks_url": "https://us.example.com/hopsworks-api/api"}
	],
	"aca_endpoints": ["https://aca-1.example.com/", "https://aca-2.example.com/", "https://aca-3.example.com/"],
	"aca_interval": "2s",
	"api_key": "from-file",
	"feature_view": {"name": "fraud_features", "version": 3}
}`

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "good.json")
	if err := os.WriteFile(path, []byte(goodFile), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := LoadFile(path, env(map[string]string{"TANDEM_API_KEY": "from-env", "TANDEM_MYSQL_PASSWORD": "pw"}))
	if err != nil {
		t.Fatal(err)
	}
	fc := d.FeatureStore
	if fc.Local != "eu" || len(fc.Regions) != 2 || len(fc.Regions[0].MySQL) != 2 || fc.ACAInterval != 2*time.Second ||
		fc.APIKey != "from-env" || fc.MySQLPassword != "pw" || d.View != "fraud_features" || d.Version != 3 ||
		len(fc.ACAEndpoints) != 3 || fc.AllowInsecureHTTP {
		t.Errorf("decoded as %+v, view %s v%d", fc, d.View, d.Version)
	}
	if _, err := LoadFile(filepath.Join(dir, "absent.json"), env(nil)); err == nil {
		t.Error("absent file: no error")
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"typo", `{"local": "eu", "regoins": []}`, "regoins"},
		{"bad duration", `{"aca_interval": "soon"}`, "soon"},
		{"duration as number", `{"aca_interval": 5}`, "duration"},
		{"two values", `{} {}`, "more than one"},
		{"not json", `<html>`, "config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.body), env(nil))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%s) = %v, want an error with %q", tc.body, err, tc.want)
			}
		})
	}
}

func TestFromEnv(t *testing.T) {
	vars := map[string]string{
		"TANDEM_REGIONS": "eu,us-east", "TANDEM_MYSQL_EU": "a:3306, b:3306", "TANDEM_MYSQL_US_EAST": "c:3306",
		"TANDEM_HOPSWORKS_URL_EU": "https://eu/hopsworks-api/api", "TANDEM_HOPSWORKS_URL_US_EAST": "https://us/hopsworks-api/api",
		"TANDEM_ACA_ENDPOINTS": "https://aca-1/,https://aca-2/", "TANDEM_PROJECT": "fraud", "TANDEM_API_KEY": "k",
		"TANDEM_FEATURE_VIEW": "fraud_features", "TANDEM_FEATURE_VIEW_VERSION": "2", "TANDEM_ACA_INTERVAL": "3s",
		"TANDEM_ALLOW_INSECURE_HTTP": "true",
	}
	if !EnvConfigured(env(vars)) || EnvConfigured(env(nil)) {
		t.Error("EnvConfigured does not follow TANDEM_REGIONS")
	}
	d, err := FromEnv(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	fc := d.FeatureStore
	if fc.Local != "eu" || fc.Regions[0].MySQL[1] != "b:3306" || fc.Regions[1].ID != "us-east" ||
		fc.Regions[1].HopsworksURL != "https://us/hopsworks-api/api" || fc.APIKey != "k" || d.Version != 2 ||
		len(fc.ACAEndpoints) != 2 || fc.ACAInterval != 3*time.Second || !fc.AllowInsecureHTTP {
		t.Errorf("decoded as %+v, view %s v%d", fc, d.View, d.Version)
	}

	for _, tc := range []struct{ name, key, value string }{
		{"no regions", "TANDEM_REGIONS", ""},
		{"bad interval", "TANDEM_ACA_INTERVAL", "often"},
		{"bad version", "TANDEM_FEATURE_VIEW_VERSION", "two"},
		{"bad bool", "TANDEM_ALLOW_INSECURE_HTTP", "maybe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := map[string]string{}
			for k, v := range vars {
				bad[k] = v
			}
			bad[tc.key] = tc.value
			if _, err := FromEnv(env(bad)); err == nil {
				t.Errorf("%s=%q: no error", tc.key, tc.value)
			}
		})
	}
}

// FuzzParse: a config file comes from outside; no input may panic, and
// the environment's secrets override whatever an accepted file says.
func FuzzParse(f *testing.F) {
	for _, s := range []string{goodFile, `{}`, `{"regions": null}`, `{"aca_interval": "1s"}`, `[]`, ``, `{"feature_view": {}}`} {
		f.Add([]byte(s))
	}
	secrets := env(map[string]string{"TANDEM_API_KEY": "env-key", "TANDEM_MYSQL_PASSWORD": "env-pw"})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b, secrets)
		if err != nil {
			if d.FeatureStore.Regions != nil || d.View != "" {
				t.Fatalf("error %v with a non-zero Deployment", err)
			}
			return
		}
		if d.FeatureStore.APIKey != "env-key" || d.FeatureStore.MySQLPassword != "env-pw" {
			t.Fatalf("secrets not taken from the environment: %+v", d.FeatureStore)
		}
	})
}
