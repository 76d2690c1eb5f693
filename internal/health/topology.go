package health

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/tandemfs/tandem/region"
)

// ErrInvalidTopology reports a topology that cannot route anything.
var ErrInvalidTopology = errors.New("health: invalid topology")

// Spec names one region and its servers (for RonDB, its MySQL servers).
type Spec struct {
	ID      region.ID
	Servers []string
}

// Server is one server of a region, with its health.
type Server struct {
	Region region.ID
	Name   string
	// Index is the server's position in [Topology.Servers].
	Index  int
	Health *Health
}

// Topology is the set of regions a client can read from, and which one is
// local. It is immutable and safe for concurrent use; the servers' health
// changes underneath.
type Topology struct {
	local   region.ID
	regions []region.ID // local first
	byReg   [][]*Server // parallel to regions
	all     []*Server
}

// NewTopology validates specs and builds a topology whose servers start
// healthy. The local region must be one of specs; every region needs at
// least one server; region and server names must be unique.
func NewTopology(local region.ID, specs []Spec, cfg region.HealthConfig) (*Topology, error) {
	if len(specs) == 0 {
		return nil, fmt.Errorf("%w: no regions; give at least one region with one server", ErrInvalidTopology)
	}
	lid, err := region.ParseID(string(local))
	if err != nil {
		return nil, fmt.Errorf("%w: local region: %w", ErrInvalidTopology, err)
	}
	t := &Topology{local: lid}
	seen := map[region.ID]bool{}
	names := map[string]bool{}
	var ordered []Spec
	for _, s := range specs {
		id, err := region.ParseID(string(s.ID))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidTopology, err)
		}
		if seen[id] {
			return nil, fmt.Errorf("%w: region %q given twice", ErrInvalidTopology, id)
		}
		seen[id] = true
		if len(s.Servers) == 0 {
			return nil, fmt.Errorf("%w: region %q has no servers", ErrInvalidTopology, id)
		}
		s.ID = id
		if id == lid {
			ordered = append([]Spec{s}, ordered...)
		} else {
			ordered = append(ordered, s)
		}
	}
	if !seen[lid] {
		return nil, fmt.Errorf("%w: local region %q is not among the regions", ErrInvalidTopology, lid)
	}
	for _, s := range ordered {
		var list []*Server
		for _, n := range s.Servers {
			if n == "" || names[n] {
				return nil, fmt.Errorf("%w: server name %q is empty or given twice", ErrInvalidTopology, n)
			}
			names[n] = true
			srv := &Server{Region: s.ID, Name: n, Index: len(t.all), Health: NewHealth(cfg)}
			list = append(list, srv)
			t.all = append(t.all, srv)
		}
		t.regions = append(t.regions, s.ID)
		t.byReg = append(t.byReg, list)
	}
	return t, nil
}

// Local is the local region.
func (t *Topology) Local() region.ID { return t.local }

// Regions lists the regions, local first.
func (t *Topology) Regions() []region.ID { return t.regions }

// Servers lists every server, local region first.
func (t *Topology) Servers() []*Server { return t.all }

// RegionServers lists the servers of region id (nil if unknown).
func (t *Topology) RegionServers(id region.ID) []*Server {
	for i, r := range t.regions {
		if r == id {
			return t.byReg[i]
		}
	}
	return nil
}

// Has reports whether id is one of the regions.
func (t *Topology) Has(id region.ID) bool { return t.RegionServers(id) != nil }

// RegionAvailable reports whether any server of region id takes traffic.
func (t *Topology) RegionAvailable(id region.ID) bool {
	for _, s := range t.RegionServers(id) {
		if s.Health.Available() {
			return true
		}
	}
	return false
}

// pick chooses among the available servers of list by the power of two
// choices on in-flight attempts, skipping except. It returns nil when no
// server is available.
func pick(list []*Server, except *Server) *Server {
	var a, b *Server
	n := 0
	for _, s := range list {
		if s == except || !s.Health.Available() {
			continue
		}
		n++
		// Reservoir-sample two distinct candidates in one pass.
		switch {
		case n == 1:
			a = s
		case n == 2:
			b = s
		default:
			if j := rand.IntN(n); j == 0 {
				a = s
			} else if j == 1 {
				b = s
			}
		}
	}
	if b == nil {
		return a
	}
	if b.Health.InFlight() < a.Health.InFlight() {
		return b
	}
	if a.Health.InFlight() == b.Health.InFlight() && rand.IntN(2) == 0 {
		return b
	}
	return a
}

// Plan appends to buf the servers to try, in order, and returns it:
//
//  1. the preferred server: in the local region while it has an available
//     server, otherwise in the first other region that has one;
//  2. another available server of the same region, if there is one (a
//     local hedge costs only a local round trip);
//  3. an available server of the next region.
//
// With pin set, only that region's servers are planned. When no server of
// a region is available, that region's servers are still planned after
// the others, so a caller always has something to try (both regions sick:
// try both).
func (t *Topology) Plan(pin region.ID, buf []*Server) []*Server {
	if pin != "" {
		list := t.RegionServers(pin)
		if list == nil {
			return buf
		}
		return appendRegion(buf, list)
	}
	var sick []int
	for i, list := range t.byReg {
		first := pick(list, nil)
		if first == nil {
			sick = append(sick, i)
			continue
		}
		buf = append(buf, first)
		if len(buf) == 1 {
			if alt := pick(list, first); alt != nil {
				buf = append(buf, alt)
			}
		}
	}
	for _, i := range sick {
		// Every server of this region is ejected: offer one anyway, the
		// least recently ejected being no better a guess than the first.
		buf = append(buf, t.byReg[i][rand.IntN(len(t.byReg[i]))])
	}
	return buf
}

func appendRegion(buf []*Server, list []*Server) []*Server {
	first := pick(list, nil)
	if first == nil {
		first = list[rand.IntN(len(list))]
	}
	buf = append(buf, first)
	if alt := pick(list, first); alt != nil {
		buf = append(buf, alt)
	}
	return buf
}
