package metadata

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tandemfs/tandem/region"
)

// Project returns the configured project (GET
// /project/getProjectInfo/{name}). The answer is cached for the Client's
// life: project ids do not change. Region names the region that first served
// it.
func (c *Client) Project(ctx context.Context) (*Project, error) {
	ctx, done, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	p, err := c.project0(ctx)
	if err != nil {
		return nil, err
	}
	cp := *p
	return &cp, nil
}

// ProjectID returns the configured project's id; see Project.
func (c *Client) ProjectID(ctx context.Context) (int64, error) {
	p, err := c.Project(ctx)
	if err != nil {
		return 0, err
	}
	return p.ID, nil
}

func (c *Client) project0(ctx context.Context) (*Project, error) {
	c.mu.Lock()
	p := c.project
	c.mu.Unlock()
	if p != nil {
		return p, nil
	}
	p, r, err := readAs(ctx, c, c.order, request{
		op: "GetProject", method: "GET",
		path: "/project/getProjectInfo/" + url.PathEscape(c.cfg.Project),
	}, decodeProject)
	if err != nil {
		return nil, err
	}
	p.Region = r
	if p.Name == "" {
		p.Name = c.cfg.Project
	}
	c.mu.Lock()
	if c.project == nil {
		c.project = p
	}
	p = c.project
	c.mu.Unlock()
	return p, nil
}

// FeatureStore returns the project's feature store (GET
// /project/{pid}/featurestores/{name}, with name =
// strings.ToLower(project)+"_featurestore" as hsfs builds it; the server's
// route matches lower case only). It is cached for the Client's life.
func (c *Client) FeatureStore(ctx context.Context) (*FeatureStore, error) {
	ctx, done, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	fs, err := c.featureStore0(ctx)
	if err != nil {
		return nil, err
	}
	cp := *fs
	return &cp, nil
}

func (c *Client) featureStore0(ctx context.Context) (*FeatureStore, error) {
	c.mu.Lock()
	fs := c.fs
	c.mu.Unlock()
	if fs != nil {
		return fs, nil
	}
	p, err := c.project0(ctx)
	if err != nil {
		return nil, err
	}
	fs, r, err := readAs(ctx, c, c.order, request{
		op: "GetFeatureStore", method: "GET",
		path: fmt.Sprintf("/project/%d/featurestores/%s", p.ID, url.PathEscape(FeatureStoreName(c.cfg.Project))),
	}, decodeFeatureStore)
	if err != nil {
		return nil, err
	}
	fs.Region = r
	c.mu.Lock()
	if c.fs == nil {
		c.fs = fs
	}
	fs = c.fs
	c.mu.Unlock()
	return fs, nil
}

// FeatureStoreName is the name of a project's feature store, as hsfs
// builds it (python/hopsworks_common/util.py append_feature_store_suffix
// in logicalclocks/hopsworks-api, and the route regex of
// FeaturestoreService.java, which accepts lower case only).
// A name that already ends in the suffix is kept, as there.
func FeatureStoreName(project string) string {
	n := strings.ToLower(project)
	if strings.HasSuffix(n, "_featurestore") {
		return n
	}
	return n + "_featurestore"
}

// viewPath is the escaped path of a feature view below the base URL.
func (c *Client) viewPath(ctx context.Context, name string, version int) (string, error) {
	if err := checkView(name, version); err != nil {
		return "", err
	}
	base, err := c.storePath(ctx)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s/featureview/%s/version/%d", base, url.PathEscape(name), version), nil
}

func checkView(name string, version int) error {
	if name == "" {
		return fmt.Errorf("%w: empty feature view name", ErrInvalidArgument)
	}
	if version < 1 {
		return fmt.Errorf("%w: feature view %s: version %d, want >= 1", ErrInvalidArgument, name, version)
	}
	return nil
}

// FeatureView returns a feature view with its features, serving keys and
// query (GET .../featureview/{name}/version/{v}?expand=features&expand=query).
//
// It reads the local region and falls back to the others when the local
// one is down. Right after this Client wrote the view, it reads the region
// that took the write until the local region shows it (read-your-writes).
// It returns a view or an error, never neither.
func (c *Client) FeatureView(ctx context.Context, name string, version int) (*FeatureView, error) {
	ctx, done, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	path, err := c.viewPath(ctx, name, version)
	if err != nil {
		return nil, err
	}
	req := request{
		op: "GetFeatureView", method: "GET", path: path,
		query: url.Values{"expand": {"features", "query", "transformationfunctions"}}, // as hsfs feature_view_api.py
	}
	key := viewKey{name, version}
	decode := func(body []byte, r region.ID) (*FeatureView, error) {
		fv, err := DecodeFeatureView(body)
		if err != nil {
			return nil, &RegionError{Region: r, Op: req.op, Err: err}
		}
		fv.Region = r
		return fv, nil
	}
	pw, pending := c.pendingFor(key)
	if !pending {
		body, r, err := c.read(ctx, c.order, req)
		if err != nil {
			return nil, err
		}
		return decode(body, r)
	}
	// Read-your-writes: ask the local region whether it shows the write yet;
	// if so the mark is dropped and its answer is as good as any.
	lbody, lerr := c.do(ctx, c.cfg.Local, req)
	var local *FeatureView
	if lerr == nil {
		local, lerr = decode(lbody, c.cfg.Local)
	}
	if c.afterLocalRead != nil {
		c.afterLocalRead()
	}
	switch {
	case ctx.Err() != nil:
		// The caller left (or the Client closed) as the local read ended;
		// whatever it returned, the check is not finished.
		return nil, c.ctxErr(ctx)
	case pw.deleted && errors.Is(lerr, ErrNotFound):
		c.clearPending(key, pw)
		return nil, lerr
	case !pw.deleted && lerr == nil && local.ID == pw.id:
		c.clearPending(key, pw)
		return local, nil
	}
	order := c.orderFrom(pw.region)
	body, r, err := c.read(ctx, order, req)
	if err != nil {
		if shouldFallback(err) && (lerr == nil || errors.Is(lerr, ErrNotFound)) {
			// The writing region is down: a possibly stale local answer
			// beats none (static stability, docs/ARCHITECTURE.md).
			if lerr != nil {
				return nil, lerr
			}
			return local, nil
		}
		return nil, err
	}
	return decode(body, r)
}

// ctxErr is the error of a call whose ctx ended: ErrClosed when the Client
// was closed, else the caller's own ctx.Err().
func (c *Client) ctxErr(ctx context.Context) error {
	if c.closed() {
		return ErrClosed
	}
	return ctx.Err()
}

// PreparedStatements returns the server-generated statements of a feature
// view (GET .../preparedstatement?batch=false|true&inference_helper_columns=false):
// one per feature group that contributes a feature, as
// PreparedStatementBuilder makes them (no labels, no helper columns).
// Routing is as for FeatureView; each statement's Region names the region
// that served it.
func (c *Client) PreparedStatements(ctx context.Context, name string, version int, batch bool) ([]PreparedStatement, error) {
	return c.statements(ctx, name, version, batch, false)
}

// InferenceHelperStatements returns the statements that select a feature
// view's inference helper columns (inference_helper_columns=true, as hsfs
// asks for get_inference_helper(s)): one per feature group that has such
// columns, none when the view has none. Routing is as for FeatureView.
func (c *Client) InferenceHelperStatements(ctx context.Context, name string, version int, batch bool) ([]PreparedStatement, error) {
	return c.statements(ctx, name, version, batch, true)
}

func (c *Client) statements(ctx context.Context, name string, version int, batch, helpers bool) ([]PreparedStatement, error) {
	ctx, done, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	path, err := c.viewPath(ctx, name, version)
	if err != nil {
		return nil, err
	}
	op := "GetPreparedStatements"
	if helpers {
		op = "GetInferenceHelperStatements"
	}
	req := request{
		op: op, method: "GET", path: path + "/preparedstatement",
		query: url.Values{
			"batch":                    {strconv.FormatBool(batch)},
			"inference_helper_columns": {strconv.FormatBool(helpers)},
		},
	}
	order := c.order
	if pw, ok := c.pendingFor(viewKey{name, version}); ok {
		order = c.orderFrom(pw.region)
	}
	items, r, err := readAs(ctx, c, order, req, DecodePreparedStatements)
	if err != nil {
		return nil, err
	}
	for i := range items {
		items[i].Region = r
	}
	return items, nil
}

// BatchQuery returns a feature view's offline query for [start, end) the
// way hsfs builds it, in two steps sent to the ACTIVE region:
//
//  1. GET .../featureview/{name}/version/{v}/query/batch?start_time&end_time
//     returns the view's query (a QueryDTO), kept as raw JSON;
//  2. PUT /project/{pid}/featurestores/query?hqs=true with that query as the
//     body returns an FsQueryDTO with hqsPayload and hqsPayloadSignature.
//
// The offline store is active-passive and the payload is signed for that
// region's query service, so both steps go to the region the ActiveSource
// names; with none known the call fails with aca.ErrNoActiveRegion, with a
// state older than Config.MaxStateAge with aca.ErrStale. Zero times are
// left out of the request.
func (c *Client) BatchQuery(ctx context.Context, name string, version int, start, end time.Time) (*BatchQuery, error) {
	ctx, done, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	r, err := c.activeRegion(ctx, "GetBatchQuery")
	if err != nil {
		return nil, err
	}
	return c.batchQuery(ctx, r, name, version, start, end)
}

// BatchQueryIn is BatchQuery with both steps pinned to region r, for
// callers that already chose the active region (the offline client). It
// does not fall back.
func (c *Client) BatchQueryIn(ctx context.Context, r region.ID, name string, version int, start, end time.Time) (*BatchQuery, error) {
	ctx, done, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	id, err := c.configuredRegion(r)
	if err != nil {
		return nil, err
	}
	return c.batchQuery(ctx, id, name, version, start, end)
}

func (c *Client) batchQuery(ctx context.Context, r region.ID, name string, version int, start, end time.Time) (*BatchQuery, error) {
	if !start.IsZero() && !end.IsZero() && end.Before(start) {
		return nil, fmt.Errorf("%w: batch query end %s is before start %s", ErrInvalidArgument, end, start)
	}
	path, err := c.viewPath(ctx, name, version)
	if err != nil {
		return nil, err
	}
	p, err := c.project0(ctx)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	// hsfs sends event times as epoch milliseconds (QueryResource.java
	// takes them as Long).
	if !start.IsZero() {
		q.Set("start_time", strconv.FormatInt(start.UnixMilli(), 10))
	}
	if !end.IsZero() {
		q.Set("end_time", strconv.FormatInt(end.UnixMilli(), 10))
	}
	step1 := request{op: "GetBatchQuery", method: "GET", path: path + "/query/batch", query: q}
	query, err := doAs(ctx, c, r, step1, DecodeQuery)
	if err != nil {
		return nil, err
	}
	// The PUT builds a query and writes nothing; it is not retried blindly
	// (writes never are), and it is refused if redirected.
	step2 := request{
		op: "ConstructQuery", method: "PUT", path: fmt.Sprintf("/project/%d/featurestores/query", p.ID),
		query: url.Values{"hqs": {"true"}}, body: query,
	}
	bq, err := doAs(ctx, c, r, step2, DecodeBatchQuery)
	if err != nil {
		return nil, err
	}
	bq.QueryDTO = query
	bq.Region = r
	return bq, nil
}

// AvroSchema returns the Avro schema of a feature group, as hsfs reads it
// for feature_group.avro_schema (GET
// /project/{pid}/featurestores/{fsid}/kafka/subjects/{name}_{version}/versions/latest,
// python/hopsworks_common/core/kafka_api.py get_subject). Array, map and
// struct features are stored in the online store as Avro binary of their
// field's schema. Routing is as for FeatureView.
func (c *Client) AvroSchema(ctx context.Context, featureGroup string, version int) (*AvroSchema, error) {
	ctx, done, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	if featureGroup == "" || version < 1 {
		return nil, fmt.Errorf("%w: feature group %q version %d", ErrInvalidArgument, featureGroup, version)
	}
	base, err := c.storePath(ctx)
	if err != nil {
		return nil, err
	}
	req := request{
		op: "GetAvroSchema", method: "GET",
		path: base + "/kafka/subjects/" + url.PathEscape(fmt.Sprintf("%s_%d", featureGroup, version)) + "/versions/latest",
	}
	s, r, err := readAs(ctx, c, c.order, req, DecodeAvroSchema)
	if err != nil {
		return nil, err
	}
	s.Region = r
	return s, nil
}

// orderFrom is the read order starting at region first, then the usual
// order without it.
func (c *Client) orderFrom(first region.ID) []region.ID {
	order := make([]region.ID, 0, len(c.order))
	order = append(order, first)
	for _, r := range c.order {
		if r != first {
			order = append(order, r)
		}
	}
	return order
}

// configuredRegion parses r and checks that it is one of Config.Regions,
// for the calls that the caller pins to one region.
func (c *Client) configuredRegion(r region.ID) (region.ID, error) {
	id, err := region.ParseID(string(r))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	if _, ok := c.eps[id]; !ok {
		return "", fmt.Errorf("%w: region %s is not in Config.Regions", ErrInvalidArgument, id)
	}
	return id, nil
}

// storePath is the REST path of the configured project's feature store,
// "/project/{pid}/featurestores/{fsid}", which most resources hang under.
func (c *Client) storePath(ctx context.Context) (string, error) {
	p, err := c.project0(ctx)
	if err != nil {
		return "", err
	}
	fs, err := c.featureStore0(ctx)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("/project/%d/featurestores/%d", p.ID, fs.ID), nil
}
