package online

import (
	"net"
	"runtime"
	"testing"
	"time"
)

// tcpPair is a loopback TCP connection: the client end wrapped in a sock,
// and the server end.
func tcpPair(t *testing.T) (*sock, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
		}
		acc <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv := <-acc
	t.Cleanup(func() { c.Close(); srv.Close() })
	return &sock{Conn: c}, srv
}

func waitReadable(t *testing.T, s *sock, want bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for s.readable() != want {
		if time.Now().After(deadline) {
			t.Fatalf("readable() stayed %v", !want)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSockReadable: a peek sees bytes that wait in the socket without
// consuming them, and nothing once they are read.
func TestSockReadable(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("peek is implemented on Linux only; elsewhere a due hedge is always sent")
	}
	s, srv := tcpPair(t)
	if s.readable() {
		t.Fatal("readable before the peer wrote")
	}
	if _, err := srv.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	waitReadable(t, s, true)
	if !s.readable() {
		t.Fatal("a second peek consumed the bytes")
	}
	b := make([]byte, 3)
	if _, err := s.Read(b); err != nil || string(b) != "abc" {
		t.Fatalf("read %q, %v after peeks", b, err)
	}
	if s.readable() {
		t.Fatal("readable after the bytes were read")
	}
	// A net.Pipe has no descriptor: never readable, so always hedged.
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	if (&sock{Conn: p1}).readable() {
		t.Fatal("a pipe reported readable")
	}
}

// TestAnswerWatch: a due hedge is held back only while every unfinished
// call has its answer waiting.
func TestAnswerWatch(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("peek is implemented on Linux only")
	}
	s1, srv1 := tcpPair(t)
	s2, srv2 := tcpPair(t)
	pc1, pc2 := &pconn{sock: s1}, &pconn{sock: s2}
	var a answerWatch
	if a.waiting(2) {
		t.Fatal("waiting with no connections yet")
	}
	a.conns[0].Store(pc1)
	a.conns[1].Store(pc2)
	if a.waiting(2) {
		t.Fatal("waiting before either server answered")
	}
	if _, err := srv1.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	waitReadable(t, s1, true)
	if a.waiting(2) {
		t.Fatal("waiting while the second call has no answer")
	}
	a.done[1].Store(true) // the second call finished
	if !a.waiting(2) {
		t.Fatal("not waiting: the first answer is in its socket, the second call is done")
	}
	if _, err := srv2.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	a.done[1].Store(false)
	waitReadable(t, s2, true)
	if !a.waiting(2) {
		t.Fatal("not waiting: both answers are in their sockets")
	}
	if a.waiting(maxWatched + 1) {
		t.Fatal("a read with more calls than are watched must always be hedged")
	}
}
