package faultproxy_test

import (
	"fmt"
	"io"
	"net"
	"time"

	"github.com/tandemfs/tandem/internal/faultproxy"
)

// A proxy in front of a server plays a remote region 20 ms away.
func Example() {
	// A one-shot echo server stands in for MariaDB.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c)
	}()

	p, err := faultproxy.New(ln.Addr().String(), faultproxy.WithSeed(1))
	if err != nil {
		panic(err)
	}
	defer p.Close()
	p.SetLatency(20 * time.Millisecond)

	c, _ := net.Dial("tcp", p.Addr())
	defer c.Close()
	start := time.Now()
	_, _ = c.Write([]byte("ping"))
	buf := make([]byte, 4)
	_, _ = io.ReadFull(c, buf)
	fmt.Println(string(buf), time.Since(start) >= 20*time.Millisecond)
	fmt.Println("accepted:", p.Stats().Accepted)
	// Output:
	// ping true
	// accepted: 1
}
