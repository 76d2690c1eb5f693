package aca

import "github.com/tandemfs/tandem/region"

// State is what an Active Cluster Arbitrator reports: which region is active
// and which is secondary. Epoch is an optional, monotonic counter (a field
// of ours; absent means 0) that lets a client refuse to go back to an older
// state.
//
// The zero State means "no state known".
type State struct {
	Active    region.ID `json:"active"`
	Secondary region.ID `json:"secondary"`
	Epoch     uint64    `json:"epoch,omitempty"`
}

// IsZero reports whether s is the zero State (no state known).
func (s State) IsZero() bool { return s.Active == "" && s.Secondary == "" && s.Epoch == 0 }

// Equal reports whether s and o name the same regions (ignoring case) and epoch.
func (s State) Equal(o State) bool {
	return s.Active.Equal(o.Active) && s.Secondary.Equal(o.Secondary) && s.Epoch == o.Epoch
}
