package tandemtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/featurestore"
	"github.com/tandemfs/tandem/internal/hopsworkstest"
	"github.com/tandemfs/tandem/metadata"
	"github.com/tandemfs/tandem/online"
	"github.com/tandemfs/tandem/region"
)

// The sandbox's regions. A client built from [Sandbox.Config] runs in EU.
const (
	EU region.ID = "eu"
	US region.ID = "us"
)

// DefaultACAInterval is the ACA poll interval put in [Sandbox.ACAConfig]:
// short, so a flip is followed within a fraction of a second.
const DefaultACAInterval = 100 * time.Millisecond

// Errors.
var (
	// ErrUnknownRegion: the region is neither EU nor US.
	ErrUnknownRegion = errors.New("tandemtest: unknown region; use tandemtest.EU or tandemtest.US")
	// ErrClosed: the Sandbox was closed.
	ErrClosed = errors.New("tandemtest: sandbox closed")
)

// Options tune a Sandbox. The zero value gives the defaults.
type Options struct {
	// Rows is how many entities each feature group holds, with keys
	// FirstKey to FirstKey+Rows-1. At most MaxRows. Default: DefaultRows
	// (1000).
	Rows int
	// RemoteLatency is added to every round trip to the US online store,
	// the remote region of a client in EU, so that a failover shows in the
	// latency. Default: 0.
	RemoteLatency time.Duration
	// ACAInterval is the poll interval in ACAConfig. Default:
	// DefaultACAInterval (100ms).
	ACAInterval time.Duration
}

// WriteCounts counts the metadata writes a region's Hopsworks received.
type WriteCounts struct {
	// Accepted writes were applied (the region was active).
	Accepted int
	// Refused writes reached a passive region and were refused. A client
	// that follows the ACA sends none.
	Refused int
}

// Sandbox is a running two-region deployment on loopback. Start it with
// [Start] and Close it when done. It is safe for concurrent use.
type Sandbox struct {
	opts   Options
	dir    string
	online map[region.ID]*onlineStore
	meta   map[region.ID]*hopsworkstest.Server
	acas   []*acaEndpoint

	mu     sync.Mutex // guards state and closed; serialises flips
	state  aca.State
	closed bool
}

// Start starts both regions: their online stores (filled with the demo
// feature view's rows), their Hopsworks REST servers (sharing replicated
// metadata; EU active) and three ACA endpoints serving
// {"active":"eu","secondary":"us"}. It takes about 0.2 s. ctx bounds the
// start only; the sandbox runs until Close.
func Start(ctx context.Context, opts Options) (_ *Sandbox, err error) {
	if opts.Rows == 0 {
		opts.Rows = DefaultRows
	}
	if opts.Rows < 1 || opts.Rows > MaxRows {
		return nil, fmt.Errorf("tandemtest: Rows %d is out of range [1, %d]: the embedded server scans the table on every lookup", opts.Rows, MaxRows)
	}
	if opts.RemoteLatency < 0 {
		return nil, fmt.Errorf("tandemtest: RemoteLatency %v is negative", opts.RemoteLatency)
	}
	if opts.ACAInterval == 0 {
		opts.ACAInterval = DefaultACAInterval
	}
	quietGMS()

	s := &Sandbox{
		opts:   opts,
		online: map[region.ID]*onlineStore{},
		meta:   map[region.ID]*hopsworkstest.Server{},
		state:  aca.State{Active: EU, Secondary: US},
	}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()

	acts, profs := demoRows(opts.Rows)
	for _, id := range []region.ID{EU, US} {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		o, err := startOnline(id, acts, profs)
		if err != nil {
			return nil, err
		}
		s.online[id] = o
	}
	s.online[US].proxy.SetLatency(opts.RemoteLatency)

	store := hopsworkstest.NewStore(hopsworkstest.StoreConfig{Project: Project})
	store.AddFeatureView(viewDef())
	for _, id := range []region.ID{EU, US} {
		s.meta[id] = hopsworkstest.New(hopsworkstest.Options{Region: id, Active: id == EU, Store: store})
	}

	s.dir, err = os.MkdirTemp("", "tandem-sandbox-")
	if err != nil {
		return nil, fmt.Errorf("tandemtest: %w", err)
	}
	for i := range 3 {
		e, err := startACA(s.dir, i+1, s.state)
		if err != nil {
			return nil, err
		}
		s.acas = append(s.acas, e)
	}
	return s, nil
}

// Close stops every server and removes the sandbox's temporary files. It
// closes connections clients still hold to the sandbox; close those clients
// first. Close is idempotent.
func (s *Sandbox) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	for _, e := range s.acas {
		e.close()
	}
	for _, m := range s.meta {
		m.Close()
	}
	for _, o := range s.online {
		o.close()
	}
	if s.dir != "" {
		return os.RemoveAll(s.dir)
	}
	return nil
}

// Regions returns the sandbox's regions, EU first.
func (s *Sandbox) Regions() []region.ID { return []region.ID{EU, US} }

// Rows returns how many entities each feature group holds.
func (s *Sandbox) Rows() int { return s.opts.Rows }

// OnlineAddr returns the address of region id's online store (host:port,
// user root, no password, database [Database]).
func (s *Sandbox) OnlineAddr(id region.ID) (string, error) {
	o, err := s.store(id)
	if err != nil {
		return "", err
	}
	return o.addr(), nil
}

// MetadataURL returns the base URL of region id's Hopsworks REST API.
func (s *Sandbox) MetadataURL(id region.ID) (string, error) {
	m, ok := s.meta[canon(id)]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownRegion, id)
	}
	return m.URL(), nil
}

// APIKey returns the API key the sandbox's Hopsworks servers accept.
func (s *Sandbox) APIKey() string { return s.meta[EU].APIKey() }

// ACAEndpoints returns the URLs of the three ACA endpoints.
func (s *Sandbox) ACAEndpoints() []string {
	out := make([]string, len(s.acas))
	for i, e := range s.acas {
		out[i] = e.url()
	}
	return out
}

// Config returns a featurestore.Config for a client in EU: both regions'
// online stores and Hopsworks servers, the three ACA endpoints (polled
// every Options.ACAInterval) and the API key. The MySQL driver logs lost
// connections to stderr through its global logger; after KillRegion it
// has plenty to say, so a demo may silence it with
// mysql.SetLogger(&mysql.NopLogger{}) (OnlineConfig does that per server).
func (s *Sandbox) Config() featurestore.Config {
	cfg := featurestore.Config{
		Local:        EU,
		ACAEndpoints: s.ACAEndpoints(),
		ACAInterval:  s.opts.ACAInterval,
		APIKey:       s.APIKey(),
		Project:      Project,
		// The sandbox's fake Hopsworks servers speak http on loopback.
		AllowInsecureHTTP: true,
	}
	for _, id := range s.Regions() {
		cfg.Regions = append(cfg.Regions, featurestore.RegionConfig{
			ID:           id,
			MySQL:        []string{s.online[id].addr()},
			HopsworksURL: s.meta[id].URL(),
		})
	}
	return cfg
}

// OnlineConfig returns an online.Config for a client in EU that reads both
// regions' online stores. The driver's own logging is off (the sandbox
// resets connections on purpose).
func (s *Sandbox) OnlineConfig() online.Config {
	cfg := online.Config{Local: EU, Database: Database}
	for _, id := range s.Regions() {
		m := mysql.NewConfig()
		m.User = "root"
		m.Net = "tcp"
		m.Addr = s.online[id].addr()
		m.DBName = Database
		m.Logger = &mysql.NopLogger{}
		cfg.Regions = append(cfg.Regions, online.RegionConfig{
			ID:      id,
			Servers: []online.ServerConfig{{Name: string(id) + "-1", MySQL: m}},
		})
	}
	return cfg
}

// MetadataConfig returns a metadata.Config for a client in EU.
func (s *Sandbox) MetadataConfig() metadata.Config {
	return metadata.Config{
		Local: EU,
		Regions: []metadata.RegionConfig{
			{ID: EU, BaseURL: s.meta[EU].URL()},
			{ID: US, BaseURL: s.meta[US].URL()},
		},
		APIKey:            s.APIKey(),
		Project:           Project,
		AllowInsecureHTTP: true, // the sandbox's fakes serve http on loopback
	}
}

// ACAConfig returns an aca.Config that polls the three ACA endpoints, for
// a client in EU.
func (s *Sandbox) ACAConfig() aca.Config {
	return aca.Config{Endpoints: s.ACAEndpoints(), Interval: s.opts.ACAInterval, Local: EU}
}

// KillRegion makes region id's online store refuse new connections and
// resets the open ones, as if its MySQL servers had been killed. Its
// Hopsworks server keeps running; use SetMetadataDown to fail it too.
func (s *Sandbox) KillRegion(id region.ID) error {
	o, err := s.store(id)
	if err != nil {
		return err
	}
	return o.kill()
}

// ReviveRegion brings region id's online store back on the same address.
func (s *Sandbox) ReviveRegion(id region.ID) error {
	o, err := s.store(id)
	if err != nil {
		return err
	}
	return o.revive()
}

// Killed reports whether region id's online store is killed.
func (s *Sandbox) Killed(id region.ID) bool {
	o, err := s.store(id)
	return err == nil && o.isKilled()
}

// SetLatency adds d to every round trip to region id's online store (0
// removes it).
func (s *Sandbox) SetLatency(id region.ID, d time.Duration) error {
	o, err := s.store(id)
	if err != nil {
		return err
	}
	o.proxy.SetLatency(d)
	return nil
}

// SetStall holds each request to region id's online store for d with
// probability p, as a sick server would (p = 0 stops it).
func (s *Sandbox) SetStall(id region.ID, p float64, d time.Duration) error {
	o, err := s.store(id)
	if err != nil {
		return err
	}
	o.proxy.SetStall(p, d)
	return nil
}

// ACAState returns the state the ACA endpoints serve.
func (s *Sandbox) ACAState() aca.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// FlipACA swaps the active and the secondary region: the Hopsworks servers
// change roles first, then all three ACA endpoints serve the new state, so
// a client that follows the ACA never writes to a passive region. It
// returns the new state.
func (s *Sandbox) FlipACA() (aca.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return aca.State{}, ErrClosed
	}
	next := aca.State{Active: s.state.Secondary, Secondary: s.state.Active}
	s.meta[next.Active].SetActive(true)
	s.meta[next.Secondary].SetActive(false)
	for _, e := range s.acas {
		if err := writeState(e.file, next); err != nil {
			return s.state, err
		}
	}
	s.state = next
	return next, nil
}

// Writes counts the metadata writes region id's Hopsworks received.
func (s *Sandbox) Writes(id region.ID) WriteCounts {
	m, ok := s.meta[canon(id)]
	if !ok {
		return WriteCounts{}
	}
	return WriteCounts{Accepted: len(m.AcceptedWrites()), Refused: len(m.RefusedWrites())}
}

// SetMetadataDown makes region id's Hopsworks REST server answer 503 to
// every request, as a load balancer in front of a dead Hopsworks does
// (down = false serves again). Lookups of a view whose plan is loaded go
// on; metadata reads fall back to the other region.
func (s *Sandbox) SetMetadataDown(id region.ID, down bool) error {
	m, ok := s.meta[canon(id)]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownRegion, id)
	}
	if down {
		m.SetFault(hopsworkstest.FaultUnavailable)
	} else {
		m.SetFault(hopsworkstest.FaultNone)
	}
	return nil
}

func (s *Sandbox) store(id region.ID) (*onlineStore, error) {
	o, ok := s.online[canon(id)]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownRegion, id)
	}
	return o, nil
}

func canon(id region.ID) region.ID {
	p, err := region.ParseID(string(id))
	if err != nil {
		return id
	}
	return p
}
