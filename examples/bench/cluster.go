package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tandemfs/tandem/internal/faultproxy"
	"github.com/tandemfs/tandem/internal/mariadbtest"
)

// dbName is the online database, as Hopsworks names it: the project name
// in lower case.
const dbName = "bench"

// The feature view's two feature groups, and their statements in the form
// Hopsworks serves them (alias fg0, one statement per group). Every row
// carries `src`, the name of the server it lives on, so a vector tells
// which region served each of its statements, whatever the client.
const (
	qFG1 = "SELECT `fg0`.`id` AS `id`, `fg0`.`f1` AS `f1`, `fg0`.`f2` AS `f2`, `fg0`.`f3` AS `f3`, `fg0`.`f4` AS `f4`, `fg0`.`src` AS `src` FROM `bench`.`fg1_1` AS `fg0` WHERE `fg0`.`id` = ?"
	qFG2 = "SELECT `fg0`.`id` AS `id`, `fg0`.`g1` AS `g1`, `fg0`.`g2` AS `g2`, `fg0`.`g3` AS `g3`, `fg0`.`g4` AS `g4`, `fg0`.`src` AS `src` FROM `bench`.`fg2_1` AS `fg0` WHERE `fg0`.`id` = ?"
	// Batch forms: a single "IN ?" over the primary key.
	qFG1Batch = "SELECT `fg0`.`id` AS `id`, `fg0`.`f1` AS `f1`, `fg0`.`f2` AS `f2`, `fg0`.`f3` AS `f3`, `fg0`.`f4` AS `f4`, `fg0`.`src` AS `src` FROM `bench`.`fg1_1` AS `fg0` WHERE (`fg0`.`id`) IN ?"
	qFG2Batch = "SELECT `fg0`.`id` AS `id`, `fg0`.`g1` AS `g1`, `fg0`.`g2` AS `g2`, `fg0`.`g3` AS `g3`, `fg0`.`g4` AS `g4`, `fg0`.`src` AS `src` FROM `bench`.`fg2_1` AS `fg0` WHERE (`fg0`.`id`) IN ?"
)

// node is one MariaDB server of the harness, behind its fault proxy.
type node struct {
	name   string // e.g. "eu-1"
	region string // e.g. "eu"
	srv    *mariadbtest.Server
}

func (n *node) proxy() *faultproxy.Proxy { return n.srv.Proxy() }
func (n *node) addr() string             { return n.srv.ClientAddr() }

// cluster is every server of the harness: eu-1 and us-1, plus eu-2 and
// us-2 when S7 runs.
type cluster struct {
	nodes       []*node
	byName      map[string]*node
	remoteDelay time.Duration
}

// launchCluster starts the servers in parallel and fills them. On error
// it stops whatever it started.
func launchCluster(ctx context.Context, names []string, entities int, remoteDelay time.Duration, logf func(string, ...any)) (*cluster, error) {
	c := &cluster{byName: map[string]*node{}, remoteDelay: remoteDelay}
	errs := make([]error, len(names))
	c.nodes = make([]*node, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			start := time.Now()
			s, err := mariadbtest.Launch(ctx, mariadbtest.Options{Proxy: true, MaxConnections: 1000})
			if err != nil {
				errs[i] = err
				return
			}
			n := &node{name: name, region: name[:strings.IndexByte(name, '-')], srv: s}
			c.nodes[i] = n
			if err := fill(ctx, n, entities); err != nil {
				errs[i] = fmt.Errorf("fill %s: %w", name, err)
				return
			}
			logf("server %s: %s (proxy %s), %d entities loaded in %v", name, s.Addr(), s.ClientAddr(), entities, time.Since(start).Round(time.Millisecond))
		})
	}
	wg.Wait()
	for _, n := range c.nodes {
		if n != nil {
			c.byName[n.name] = n
		}
	}
	for _, err := range errs {
		if err != nil {
			c.stop()
			return nil, err
		}
	}
	c.reset()
	return c, nil
}

// fill creates the database, both feature groups and the users HAProxy's
// mysql-check logs in as, and inserts the entities with multi-row INSERTs.
func fill(ctx context.Context, n *node, entities int) error {
	stmts := []string{
		"CREATE DATABASE " + dbName,
		"CREATE TABLE bench.fg1_1 (id BIGINT PRIMARY KEY, f1 DOUBLE, f2 DOUBLE, f3 BIGINT, f4 VARCHAR(32), src VARCHAR(8))",
		"CREATE TABLE bench.fg2_1 (id BIGINT PRIMARY KEY, g1 DOUBLE, g2 BIGINT, g3 VARCHAR(32), g4 DOUBLE, src VARCHAR(8))",
		// HAProxy's option mysql-check logs in without a password and
		// quits; the fault proxy makes every client come from 127.0.0.1.
		"CREATE USER 'haproxy'@'127.0.0.1'",
	}
	const chunk = 5000
	for lo := 1; lo <= entities; lo += chunk {
		hi := min(lo+chunk-1, entities)
		var a, b strings.Builder
		a.WriteString("INSERT INTO bench.fg1_1 VALUES ")
		b.WriteString("INSERT INTO bench.fg2_1 VALUES ")
		for id := lo; id <= hi; id++ {
			if id > lo {
				a.WriteByte(',')
				b.WriteByte(',')
			}
			fmt.Fprintf(&a, "(%d,%d.25,%d.5,%d,'user-%d','%s')", id, id%1000, id%777, id*3, id, n.name)
			fmt.Fprintf(&b, "(%d,%d.75,%d,'segment-%d',%d.125,'%s')", id, id%313, id%97, id%17, id%59, n.name)
		}
		stmts = append(stmts, a.String(), b.String())
	}
	return n.srv.Exec(ctx, stmts...)
}

// reset lifts every fault and puts the remote delay back on us.
func (c *cluster) reset() {
	for _, n := range c.nodes {
		p := n.proxy()
		p.SetStall(0, 0)
		p.SetBlackhole(false)
		_ = p.SetRefuse(false)
		if n.region == "us" {
			p.SetLatency(c.remoteDelay)
		} else {
			p.SetLatency(0)
		}
	}
}

// requests sums the requests every proxy has seen.
func (c *cluster) requests() int64 {
	var t int64
	for _, n := range c.nodes {
		t += n.proxy().Stats().Requests
	}
	return t
}

// stop stops every server (in parallel: a graceful stop takes ~1 s).
func (c *cluster) stop() {
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		if n != nil {
			wg.Go(func() { _ = n.srv.Stop() })
		}
	}
	wg.Wait()
}
