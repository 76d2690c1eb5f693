package featurestore

import (
	"context"
	"fmt"

	"github.com/go-sql-driver/mysql"

	"github.com/tandemfs/tandem/metadata"
	"github.com/tandemfs/tandem/online"
	"github.com/tandemfs/tandem/region"
)

// onlineStore returns the online store, creating it on first use when a
// region's online store is to be discovered (Config.Regions[].MySQL
// empty): each such region's address, user and password come from that
// region's "onlinefeaturestore" storage connector (metadata.Client.
// OnlineStoreCredentials, as hsfs's storage_connector_api.py and
// util_sql.py read them). A failed discovery is retried on the next call.
func (c *Client) onlineStore(ctx context.Context) (*online.Store, error) {
	if s := c.store.Load(); s != nil {
		return s, nil
	}
	c.storeMu.Lock()
	defer c.storeMu.Unlock()
	if s := c.store.Load(); s != nil {
		return s, nil
	}
	logins := map[region.ID]*metadata.OnlineCredentials{}
	for _, r := range c.cfg.Regions {
		if len(r.MySQL) > 0 {
			continue
		}
		cred, err := c.md.OnlineStoreCredentials(ctx, r.ID)
		if err != nil {
			return nil, fmt.Errorf("featurestore: discovering the online store of region %s: %w", r.ID, err)
		}
		logins[r.ID] = cred
	}
	s, err := online.New(c.cfg.onlineConfig(logins), c.storeOpts...)
	if err != nil {
		return nil, fmt.Errorf("featurestore: the discovered online store: %w", err)
	}
	c.owned = append(c.owned, s.Close)
	c.store.Store(s)
	return s, nil
}

// discoveredServer is the online server of a discovered login.
func discoveredServer(l *metadata.OnlineCredentials) online.ServerConfig {
	m := mysql.NewConfig()
	m.Net, m.Addr, m.User, m.Passwd, m.DBName = "tcp", l.Addr, l.User, l.Password, l.Database
	return online.ServerConfig{Name: string(l.Region) + "-discovered", MySQL: m}
}
