// Package health is the machinery behind Tandem's routing: a latency
// sketch, per-server health with ejection and probation, and the choice of
// where a read goes first. The online package drives it; users see its
// state through the read-only snapshots of package region.
//
// It performs no I/O and starts no goroutines. Every time-dependent call
// takes the current time as an argument, so the whole package is tested
// without sleeping.
//
// # Health model
//
// Health is tracked per server (a RonDB region runs several MySQL servers)
// and summed per region. A server that fails FailureThreshold times in a
// row is ejected; while ejected it is probed (the caller sends the probes)
// at intervals that grow from ProbeBase to ProbeMax while it keeps
// failing. A successful probe puts it on probation: it takes traffic
// again, and a single failure during probation ejects it again with a
// longer backoff. A slow attempt (far beyond the server's normal latency)
// counts as a failure too ("latency-induced probation", The Tail at
// Scale), so a blackholed server is ejected long before any timeout.
//
// [Topology.Plan] never leaves a caller with nothing to try: when every
// server of every region is ejected it returns them all, local first
// ("when both are sick, try both").
//
// # Concurrency
//
// [Sketch] and [Health] are safe for concurrent use; recording a latency is
// lock-free and does not allocate. [Topology] is immutable after
// [NewTopology].
package health
