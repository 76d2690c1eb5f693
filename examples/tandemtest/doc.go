// Package tandemtest is Tandem's test kit, as httptest is net/http's: it
// runs a two-region Hopsworks feature store in-process, on loopback, for
// the tests of services that use Tandem, for demos and for the tandem CLI.
// Its API holds only Tandem's public types.
//
// A [Sandbox] holds, for each region ([EU] and [US]):
//
//   - an online store: an embedded MySQL-protocol server
//     (github.com/dolthub/go-mysql-server, in memory) with the demo feature
//     view's two feature groups, card_activity_1 and profiles_1, keyed by
//     cc_num; the card_activity_1 table has a replica column that names the
//     region holding the row, so a vector shows which region served it;
//   - a fake Hopsworks REST server; the two share replicated metadata, and
//     only the active one accepts writes;
//
// plus three ACA endpoints ([aca.Handler] on state files) that serve
// {"active":"eu","secondary":"us"} at start.
//
// Controls:
//
//   - kill: [Sandbox.KillRegion] makes a region's online store refuse new
//     connections and resets the open ones; [Sandbox.ReviveRegion] serves
//     again on the same address; [Sandbox.SetMetadataDown] fails a
//     region's Hopsworks;
//   - stall: [Sandbox.SetStall] holds a share of a region's requests,
//     [Sandbox.SetLatency] adds to every round trip;
//   - flip: [Sandbox.FlipACA] swaps the active and secondary regions on the
//     ACA endpoints and on the Hopsworks servers;
//   - drift: [Sandbox.SetFeature] and [Sandbox.DeleteEntity] change one
//     region's rows only, as replication lag does.
//
// [Sandbox.Config] returns a featurestore.Config for a client in EU;
// [Sandbox.OnlineConfig], [Sandbox.MetadataConfig] and [Sandbox.ACAConfig]
// give the parts.
//
// The demo feature view is [FeatureView] version [FeatureViewVersion]; its
// entities have cc_num from [FirstKey] (100001) to FirstKey+Rows-1
// (101000 with the default 1000 rows); [Entry] builds an entry. Keep the
// tables small: the embedded server scans a table on every primary-key
// lookup (about 0.3 ms at 1k rows, 2 ms at 10k), which is why
// [Options.Rows] is capped at [MaxRows]. Latency figures from the sandbox
// say nothing about RonDB's.
//
// # Use in your own tests
//
// The package is importable from any module, so a service's tests can run
// against a real two-region setup without Docker:
//
//	func TestScoring(t *testing.T) {
//		sb, err := tandemtest.Start(context.Background(), tandemtest.Options{})
//		if err != nil {
//			t.Fatal(err)
//		}
//		defer sb.Close()
//		fs, err := featurestore.New(sb.Config())
//		...
//		_ = sb.KillRegion(tandemtest.EU) // lookups go on from us
//	}
//
// Start takes about 0.2 s with 1k rows. Close the clients built on a
// sandbox before the sandbox itself.
//
// go-mysql-server logs every connection through the global logrus logger
// and its vitess listener through package variables of its own; the first
// Start silences both (logrus level Panic, output discarded). If your
// process uses logrus, set it up again after Start.
//
// # Errors
//
// Start fails on invalid [Options] or when a port cannot be bound. Calls
// naming a region other than EU or US return an error wrapping
// [ErrUnknownRegion]; FlipACA after Close returns [ErrClosed].
//
// # Concurrency
//
// A Sandbox is safe for concurrent use: faults may be injected while
// clients read. Start runs the servers' goroutines; Close stops all of
// them (it closes the connections clients still hold, too), removes the
// temporary state files, and is idempotent.
package tandemtest
