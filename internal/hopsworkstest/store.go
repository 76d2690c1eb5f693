package hopsworkstest

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tandemfs/tandem/region"
)

// Defaults of StoreConfig.
const (
	DefaultProject        = "tandem"
	DefaultProjectID      = 119
	DefaultFeatureStoreID = 67
)

// StoreConfig describes the project a Store holds. Zero fields take the
// defaults above.
type StoreConfig struct {
	Project        string
	ProjectID      int64
	FeatureStoreID int64
	// Now is the clock used for replication lag. Default: time.Now.
	Now func() time.Time
}

// Store is the metadata that Hopsworks replicates between regions: one
// project, its feature store, feature groups and feature views. Give the
// same Store to the fake servers of both regions to model replication; a
// write made in one region becomes visible in the others after the
// replication lag (SetReplicationLag).
//
// A Store is safe for concurrent use.
type Store struct {
	project string
	pid     int64
	fsid    int64
	now     func() time.Time

	mu      sync.Mutex
	lag     time.Duration
	nextID  int64
	fgs     map[int64]FeatureGroupDef
	views   map[viewKey][]viewEvent // oldest first
	invalid map[viewKey]bool

	tf tfStore // SetTransformations (transformations.go)
}

type viewKey struct {
	name    string
	version int
}

// viewEvent is a create (def != nil) or a delete (def == nil) of a view,
// made in origin at time at. Events with origin "" are seen everywhere at
// once (test setup).
type viewEvent struct {
	at     time.Time
	origin region.ID
	def    *FeatureViewDef
	id     int64
}

// NewStore returns an empty Store.
func NewStore(cfg StoreConfig) *Store {
	if cfg.Project == "" {
		cfg.Project = DefaultProject
	}
	if cfg.ProjectID == 0 {
		cfg.ProjectID = DefaultProjectID
	}
	if cfg.FeatureStoreID == 0 {
		cfg.FeatureStoreID = DefaultFeatureStoreID
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Store{
		project: cfg.Project, pid: cfg.ProjectID, fsid: cfg.FeatureStoreID, now: cfg.Now,
		nextID: 1000, fgs: map[int64]FeatureGroupDef{}, views: map[viewKey][]viewEvent{}, invalid: map[viewKey]bool{},
	}
}

// Project returns the project name.
func (s *Store) Project() string { return s.project }

// ProjectID returns the project id.
func (s *Store) ProjectID() int64 { return s.pid }

// FeatureStoreID returns the feature store id.
func (s *Store) FeatureStoreID() int64 { return s.fsid }

// Database is the online database of the project: its name in lower case
// (OnlineFeaturestoreController.getOnlineFeaturestoreDbName).
func (s *Store) Database() string { return strings.ToLower(s.project) }

// SetReplicationLag sets how long a write made in one region takes to be
// seen in the others. Zero means at once.
func (s *Store) SetReplicationLag(d time.Duration) {
	s.mu.Lock()
	s.lag = d
	s.mu.Unlock()
}

// AddFeatureGroup registers a feature group so that created views can
// reference it by id. AddFeatureView registers the groups it names.
func (s *Store) AddFeatureGroup(fg FeatureGroupDef) {
	s.mu.Lock()
	s.fgs[fg.ID] = fg
	s.mu.Unlock()
}

// AddFeatureView adds a view that every region sees at once, and returns its
// id. It panics on a definition that the real server would refuse, since it
// is a test's own mistake.
func (s *Store) AddFeatureView(def FeatureViewDef) int64 {
	if err := def.validate(); err != nil {
		panic("hopsworkstest: AddFeatureView: " + err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range def.Joins {
		s.fgs[j.FeatureGroup.ID] = j.FeatureGroup
	}
	s.nextID++
	d := def.clone()
	k := viewKey{def.Name, def.Version}
	delete(s.invalid, k)
	s.views[k] = append(s.views[k], viewEvent{origin: "", def: &d, id: s.nextID})
	return s.nextID
}

// InvalidateFeatureView makes the view's query invalid, as when one of its
// feature groups is deleted: reads of it fail with error 270009.
func (s *Store) InvalidateFeatureView(name string, version int) {
	s.mu.Lock()
	s.invalid[viewKey{name, version}] = true
	s.mu.Unlock()
}

// view returns the view as region r sees it now.
func (s *Store) view(r region.ID, name string, version int) (FeatureViewDef, int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, ok := s.visible(r, viewKey{name, version})
	if !ok || ev.def == nil {
		return FeatureViewDef{}, 0, false
	}
	return ev.def.clone(), ev.id, true
}

func (s *Store) visible(r region.ID, k viewKey) (viewEvent, bool) {
	now := s.now()
	evs := s.views[k]
	for i := len(evs) - 1; i >= 0; i-- {
		ev := evs[i]
		if ev.origin == "" || ev.origin == r || !now.Before(ev.at.Add(s.lag)) {
			return ev, true
		}
	}
	return viewEvent{}, false
}

func (s *Store) isInvalid(name string, version int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.invalid[viewKey{name, version}]
}

// featureGroupBySubject finds a group by its schema subject, {name}_{version}.
func (s *Store) featureGroupBySubject(subject string) (FeatureGroupDef, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fg := range s.fgs {
		if fg.Table() == subject {
			return fg, true
		}
	}
	return FeatureGroupDef{}, false
}

func (s *Store) featureGroup(id int64) (FeatureGroupDef, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fg, ok := s.fgs[id]
	return fg, ok
}

// create stores def as written in region r. A zero version takes the next
// free one, as Hopsworks does.
func (s *Store) create(r region.ID, def FeatureViewDef) (FeatureViewDef, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if def.Version == 0 {
		def.Version = 1
		for k := range s.views {
			if ev, ok := s.visible(r, k); ok && k.name == def.Name && ev.def != nil && k.version >= def.Version {
				def.Version = k.version + 1
			}
		}
	}
	if err := def.validate(); err != nil {
		return FeatureViewDef{}, 0, err
	}
	k := viewKey{def.Name, def.Version}
	if ev, ok := s.visible(r, k); ok && ev.def != nil {
		return FeatureViewDef{}, 0, errExists
	}
	s.nextID++
	d := def.clone()
	delete(s.invalid, k)
	s.views[k] = append(s.views[k], viewEvent{at: s.now(), origin: r, def: &d, id: s.nextID})
	return d.clone(), s.nextID, nil
}

// remove deletes the view as seen in region r.
func (s *Store) remove(r region.ID, name string, version int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := viewKey{name, version}
	if ev, ok := s.visible(r, k); !ok || ev.def == nil {
		return false
	}
	s.views[k] = append(s.views[k], viewEvent{at: s.now(), origin: r})
	return true
}

var errExists = fmt.Errorf("feature view already exists")
