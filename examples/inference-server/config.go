package main

import (
	"github.com/tandemfs/tandem/examples/internal/config"
	"github.com/tandemfs/tandem/featurestore"
)

// The config file and the TANDEM_* variables are shared with the tandem
// CLI: see package examples/internal/config for both formats.

// endpoints is where the server reads features from, and which view.
type endpoints struct {
	fs      featurestore.Config
	view    string
	version int
}

func fromDeployment(d config.Deployment, err error) (endpoints, error) {
	return endpoints{fs: d.FeatureStore, view: d.View, version: d.Version}, err
}

// loadConfigFile reads a JSON config strictly (config.LoadFile).
func loadConfigFile(path string, getenv func(string) string) (endpoints, error) {
	return fromDeployment(config.LoadFile(path, getenv))
}

// envConfigured reports whether the environment describes a deployment.
func envConfigured(getenv func(string) string) bool { return config.EnvConfigured(getenv) }

// configFromEnv builds the config from TANDEM_* variables (config.FromEnv).
func configFromEnv(getenv func(string) string) (endpoints, error) {
	return fromDeployment(config.FromEnv(getenv))
}
