// Package region holds the vocabulary Tandem's clients share about
// regions: region IDs ([ID], [ParseID]), the health settings of a client's
// servers ([HealthConfig]), their health states ([State]), the clock a
// client reads ([Clock]), and read-only snapshots of a client's regions
// and servers ([Topology]). The machinery that tracks health and routes
// reads is internal to Tandem; a snapshot cannot change it.
//
// # Health model
//
// Health is tracked per server (a RonDB region runs several MySQL servers).
// A server that fails FailureThreshold times in a row is [Ejected]; while
// ejected it is probed at intervals that grow from ProbeBase to ProbeMax.
// A successful probe puts it on [Probation]: it takes traffic again, and a
// single failure ejects it again with a longer backoff; ProbationSuccesses
// in a row make it [Healthy]. A slow attempt (far beyond the server's
// normal latency) counts as a failure too, so a blackholed server is
// ejected long before any timeout (docs/ARCHITECTURE.md#hedging).
//
// # Errors
//
// [ParseID] returns errors wrapping [ErrInvalidID]. Nothing else in the
// package fails.
//
// # Concurrency
//
// Every type here is a value: an ID, a config, a snapshot. A [Topology]
// is a copy made when it was asked for; it is not updated, and the
// caller may keep or change it freely.
//
// # Telemetry
//
// The package records nothing.
package region
