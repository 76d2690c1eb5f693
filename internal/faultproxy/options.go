package faultproxy

import "time"

// Option configures a [Proxy] at [New].
type Option func(*options)

type options struct {
	listenAddr  string
	dialTimeout time.Duration
	seed        uint64
	seeded      bool
}

// WithSeed seeds the random generator behind SetStall, so a test gets the
// same sequence of stall decisions on every run. Default: a random seed.
func WithSeed(seed int64) Option {
	return func(o *options) { o.seed, o.seeded = uint64(seed), true }
}

// WithListenAddr sets the address to listen on. Default: "127.0.0.1:0" (a
// free loopback port).
func WithListenAddr(addr string) Option {
	return func(o *options) {
		if addr != "" {
			o.listenAddr = addr
		}
	}
}

// WithDialTimeout bounds each dial to the target. Default: 5s.
func WithDialTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.dialTimeout = d
		}
	}
}
