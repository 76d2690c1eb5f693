package offline

import (
	"context"
	"time"

	"github.com/tandemfs/tandem/metadata"
	"github.com/tandemfs/tandem/region"
)

// MetadataQueries adapts the metadata client to a [QuerySource]. It asks for
// the batch query with BatchQueryIn, pinned to the region the offline client
// chose (the active one), because the payload is signed for that region's
// query service; it never falls back to the other region. Its errors are
// the metadata client's (metadata.ErrNotFound and so on), which
// ReadBatch wraps in [ErrBatchQuery].
func MetadataQueries(c *metadata.Client) QuerySource { return metadataQueries{c} }

type metadataQueries struct{ c *metadata.Client }

func (m metadataQueries) BatchQuery(ctx context.Context, r region.ID, featureView string, version int, start, end time.Time) (string, string, error) {
	q, err := m.c.BatchQueryIn(ctx, r, featureView, version, start, end)
	if err != nil {
		return "", "", err
	}
	return q.HQSPayload, q.HQSPayloadSignature, nil
}
