package tandemtest

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/tandemfs/tandem/aca"
)

// acaEndpoint is one ACA endpoint: an [aca.Handler] serving a state file,
// as the aca-server example does (GitOps), on a loopback HTTP server.
type acaEndpoint struct {
	file string
	srv  *httptest.Server
}

// startACA writes st to a file in dir and serves it. The handler looks at
// the file on every request, so a flip is served at once.
func startACA(dir string, n int, st aca.State) (*acaEndpoint, error) {
	file := filepath.Join(dir, fmt.Sprintf("aca-%d.json", n))
	if err := writeState(file, st); err != nil {
		return nil, err
	}
	h, err := aca.NewHandler(file, aca.WithCheckInterval(0))
	if err != nil {
		return nil, fmt.Errorf("tandemtest: ACA endpoint %d: %w", n, err)
	}
	return &acaEndpoint{file: file, srv: httptest.NewServer(h)}, nil
}

// writeState replaces the file atomically, so the handler never reads a
// half-written state.
func writeState(file string, st aca.State) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("tandemtest: encode ACA state: %w", err)
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("tandemtest: write ACA state: %w", err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return fmt.Errorf("tandemtest: write ACA state: %w", err)
	}
	return nil
}

func (e *acaEndpoint) url() string { return e.srv.URL + "/" }

func (e *acaEndpoint) close() { e.srv.Close() }
