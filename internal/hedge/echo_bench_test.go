package hedge

import (
	"context"
	"net"
	"testing"
	"time"
)

// echoConn is a loopback TCP echo: a round trip that blocks in the
// netpoller, like a query, without a database.
func echoConn(b *testing.B) net.Conn {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		c, err := ln.Accept()
		ln.Close()
		if err != nil {
			return
		}
		buf := make([]byte, 64)
		for {
			n, err := c.Read(buf)
			if err != nil {
				c.Close()
				return
			}
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkRoundTrip measures what the engine adds to a blocking round
// trip: "inline" is the round trip alone; "engine" runs it as attempt 0 of
// a two-target plan with a hedge timer armed (never firing), as every
// hedged lookup does.
func BenchmarkRoundTrip(b *testing.B) {
	c := echoConn(b)
	buf := make([]byte, 64)
	rt := func(context.Context, int) (int, error) {
		if _, err := c.Write(buf[:10]); err != nil {
			return 0, err
		}
		n, err := c.Read(buf)
		return n, err
	}
	b.Run("inline", func(b *testing.B) {
		for b.Loop() {
			_, _ = rt(context.Background(), 0)
		}
	})
	e := New(Config{SelfBounded: true})
	defer e.Close()
	p := Plan[int]{Targets: 2, Delay: func(int) time.Duration { return time.Second }, Attempt: rt}
	b.Run("engine", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := Do(context.Background(), e, p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
