package tandemtest

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/go-sql-driver/mysql"

	"github.com/tandemfs/tandem/internal/hopsworkstest"
	"github.com/tandemfs/tandem/region"
)

// The two regions' online stores are separate clusters fed by the same
// stream, so they may disagree for a while. SetFeature and DeleteEntity
// plant such a difference in one region, for tests of code that compares
// regions or reads one pinned.

// SetFeature sets one feature of the entity with cc_num key in region
// id's online store only, as a write that has not reached the other
// region yet. feature is one of [FeatureNames] except cc_num; value must
// fit its column (an integer, a float or, for replica, a string). It
// works while the region is killed or stalled: it bypasses the fault
// proxy. It fails when the entity has no row.
func (s *Sandbox) SetFeature(ctx context.Context, id region.ID, key int64, feature string, value any) error {
	o, err := s.store(id)
	if err != nil {
		return err
	}
	table := ""
	for _, g := range []hopsworkstest.FeatureGroupDef{activityGroup, profileGroup} {
		for _, f := range g.Features {
			if f.Name == feature && !f.Primary {
				table = g.Table()
			}
		}
	}
	if table == "" {
		return fmt.Errorf("tandemtest: SetFeature: %q is not a feature of the demo view other than cc_num", feature)
	}
	n, err := o.exec(ctx, fmt.Sprintf("UPDATE `%s` SET `%s` = ? WHERE `cc_num` = ?", table, feature), value, key)
	if err != nil {
		return fmt.Errorf("tandemtest: SetFeature in region %s: %w", o.id, err)
	}
	if n == 0 {
		return fmt.Errorf("tandemtest: SetFeature in region %s: no entity with cc_num %d", o.id, key)
	}
	return nil
}

// DeleteEntity removes the rows of the entity with cc_num key from both
// feature groups of region id's online store only, as if the rows had not
// been replicated there yet. Deleting an absent entity is not an error.
func (s *Sandbox) DeleteEntity(ctx context.Context, id region.ID, key int64) error {
	o, err := s.store(id)
	if err != nil {
		return err
	}
	for _, t := range []string{activityGroup.Table(), profileGroup.Table()} {
		if _, err := o.exec(ctx, fmt.Sprintf("DELETE FROM `%s` WHERE `cc_num` = ?", t), key); err != nil {
			return fmt.Errorf("tandemtest: DeleteEntity in region %s: %w", o.id, err)
		}
	}
	return nil
}

// exec runs one statement on the server itself, past the proxy, and
// returns the rows it affected.
func (o *onlineStore) exec(ctx context.Context, query string, args ...any) (int64, error) {
	cfg := mysql.NewConfig()
	cfg.User = "root"
	cfg.Net = "tcp"
	cfg.Addr = o.direct
	cfg.DBName = Database
	cfg.Logger = &mysql.NopLogger{}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return 0, err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	res, err := db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
