package region

// Topology is a snapshot of a client's regions and the health of their
// servers, taken when it was asked for (for example by
// online.Store.Topology). Changing it changes nothing in the client.
type Topology struct {
	// Local is the region the client runs in.
	Local ID
	// Regions lists every region, local first.
	Regions []Region
}

// Region is one region of a [Topology].
type Region struct {
	ID      ID
	Servers []Server
}

// Server is one server of a [Region], as it was when the snapshot was
// taken.
type Server struct {
	Name  string
	State State
	// Ejections is how many times the server was ejected.
	Ejections int64
	// InFlight is the number of attempts running on it.
	InFlight int64
}

// Available reports whether any server of the region takes regular
// traffic (is not ejected).
func (r Region) Available() bool {
	for _, s := range r.Servers {
		if s.State != Ejected {
			return true
		}
	}
	return false
}

// Region returns the region id of t, and false if t has none.
func (t Topology) Region(id ID) (Region, bool) {
	for _, r := range t.Regions {
		if r.ID == id {
			return r, true
		}
	}
	return Region{}, false
}
