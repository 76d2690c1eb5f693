// Package tandem is an embeddable Go SDK that reads a two-region,
// Hopsworks-style feature store as if it were one, with no proxy in
// between.
//
// The online store is active-active: both regions' RonDB clusters can answer
// a lookup, so package [github.com/tandemfs/tandem/online] hedges every read
// across them (local first, then another local server, then the remote
// region) and fails over without a failed lookup while one region lives.
// The metadata layer and the offline store are active-passive: packages
// [github.com/tandemfs/tandem/metadata] and
// [github.com/tandemfs/tandem/offline] follow the Active Cluster Arbitrator
// (package [github.com/tandemfs/tandem/aca]), send writes and offline reads
// to the active region only, and keep working from the last known state
// when the arbitrator is unreachable.
//
// Most services use package [github.com/tandemfs/tandem/featurestore]:
//
//	c, err := featurestore.New(cfg)
//	fv, err := c.FeatureView(ctx, "fraud", 1)
//	vec, err := fv.GetFeatureVector(ctx, map[string]any{"cc_num": 4242})
//
// Package [github.com/tandemfs/tandem/region] holds the pure routing logic
// (latency sketches, health, ejection and probation) that the others share.
//
// This root package has no API of its own.
package tandem
