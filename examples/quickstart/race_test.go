//go:build race

package main

// raceDetector is true when the tests run under -race, which slows the
// in-process sandbox (go-mysql-server) by an order of magnitude.
const raceDetector = true
