package metadata

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tandemfs/tandem/region"
)

// CreateFeatureView creates a feature view (POST
// /project/{pid}/featurestores/{fsid}/featureview) in the active region and
// returns it as that region stored it.
//
// The write goes to the region the ActiveSource names as active; with none
// known it fails with ErrNoActiveRegion. If that region refuses the write as
// read-only, the Client refreshes the ACA state and retries once on the new
// active region. A create is never retried after a transport error: it may
// have been applied.
func (c *Client) CreateFeatureView(ctx context.Context, spec FeatureViewSpec) (*FeatureView, error) {
	ctx, done, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	if err := checkView(spec.Name, spec.Version); err != nil {
		return nil, err
	}
	if spec.Query == nil || spec.Query.LeftFeatureGroup == nil {
		return nil, fmt.Errorf("%w: feature view %s: Query.LeftFeatureGroup is required", ErrInvalidArgument, spec.Name)
	}
	body, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("%w: encoding feature view %s: %v", ErrInvalidArgument, spec.Name, err)
	}
	base, err := c.storePath(ctx)
	if err != nil {
		return nil, err
	}
	req := request{
		op: "CreateFeatureView", method: "POST", body: body,
		path: base + "/featureview",
	}
	out, r, err := c.write(ctx, req)
	if err != nil {
		return nil, err
	}
	fv, err := DecodeFeatureView(out)
	if err != nil {
		// The view was created; only its echo is unreadable.
		return nil, &RegionError{Region: r, Op: req.op, Err: fmt.Errorf("created, but the answer is unreadable: %w", err)}
	}
	fv.Region = r
	c.markPending(viewKey{spec.Name, spec.Version}, pendingWrite{region: r, id: fv.ID})
	return fv, nil
}

// DeleteFeatureView deletes a feature view version (DELETE
// .../featureview/{name}/version/{v}) in the active region. Routing is as
// for CreateFeatureView. Deleting a view that does not exist fails with
// ErrNotFound.
func (c *Client) DeleteFeatureView(ctx context.Context, name string, version int) error {
	ctx, done, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer done()
	path, err := c.viewPath(ctx, name, version)
	if err != nil {
		return err
	}
	_, r, err := c.write(ctx, request{op: "DeleteFeatureView", method: "DELETE", path: path})
	if err != nil {
		return err
	}
	c.markPending(viewKey{name, version}, pendingWrite{region: r, deleted: true})
	return nil
}

// viewKey names a feature view version for read-your-writes.
type viewKey struct {
	name    string
	version int
}

// pendingWrite is a write this Client made that the local region may not
// show yet.
type pendingWrite struct {
	region  region.ID // the region that took the write
	until   time.Time // the bound: after it, reads go back to normal
	deleted bool
	id      int64 // the created view's id, to recognise it locally
}

func (c *Client) markPending(k viewKey, pw pendingWrite) {
	if pw.region == c.cfg.Local {
		// The local region took the write: it shows it already.
		c.mu.Lock()
		delete(c.pending, k)
		c.mu.Unlock()
		return
	}
	pw.until = c.now().Add(c.cfg.ReadYourWritesBound)
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for k2, p := range c.pending { // keep the map small
		if now.After(p.until) {
			delete(c.pending, k2)
		}
	}
	c.pending[k] = pw
}

func (c *Client) pendingFor(k viewKey) (pendingWrite, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pw, ok := c.pending[k]
	if !ok {
		return pendingWrite{}, false
	}
	if c.now().After(pw.until) {
		delete(c.pending, k)
		return pendingWrite{}, false
	}
	return pw, true
}

// clearPending drops the mark if it is still pw (a newer write keeps its
// own mark).
func (c *Client) clearPending(k viewKey, pw pendingWrite) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.pending[k]; ok && cur == pw {
		delete(c.pending, k)
	}
}
