package metadata

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"

	"github.com/tandemfs/tandem/region"
)

// OnlineCredentials is how to reach one region's online store (RonDB's
// MySQL servers), as that region's Hopsworks gives it to the API key's
// user. Its String, GoString and LogValue never show the password.
type OnlineCredentials struct {
	// Region is the region whose Hopsworks answered; each region has its
	// own connector, host and password.
	Region region.ID
	// Addr is host:port of the MySQL endpoint.
	Addr string
	// Database is the project's online database.
	Database string
	// User and Password log in to it.
	User     string
	Password string
}

// String describes c with the password redacted.
func (c OnlineCredentials) String() string {
	return fmt.Sprintf("metadata.OnlineCredentials{Region: %s, Addr: %s, Database: %s, User: %s, Password: %s}",
		c.Region, c.Addr, c.Database, c.User, redacted(c.Password))
}

// GoString is String, so %#v does not print the password either.
func (c OnlineCredentials) GoString() string { return c.String() }

// LogValue makes slog print c with the password redacted.
func (c OnlineCredentials) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("region", string(c.Region)), slog.String("addr", c.Addr),
		slog.String("database", c.Database), slog.String("user", c.User),
		slog.String("password", redacted(c.Password)),
	)
}

// ExternalMySQLVariable is the Hopsworks variable that names the online
// store's host for clients outside the cluster (hsfs
// python/hopsworks_common/core/variable_api.py,
// _get_loadbalancer_external_domain("mysqld")).
const ExternalMySQLVariable = "loadbalancer_external_domain_mysqld"

// OnlineStoreCredentials discovers region r's online store the way hsfs
// does (python/hsfs/core/storage_connector_api.py _get_online_connector
// and python/hsfs/core/util_sql.py): it reads r's online feature store
// JDBC connector (GET
// /project/{pid}/featurestores/{fsid}/storageconnectors/onlinefeaturestore)
// for the JDBC URL and the user and password in its arguments, and, with
// Config.External, the host from the loadbalancer_external_domain_mysqld
// variable (GET /variables/{name}), keeping the connector's port.
//
// Both requests go to r only: each region has its own connector. The
// password never appears in an error, a log line or a span.
func (c *Client) OnlineStoreCredentials(ctx context.Context, r region.ID) (*OnlineCredentials, error) {
	ctx, done, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	id, err := c.configuredRegion(r)
	if err != nil {
		return nil, err
	}
	base, err := c.storePath(ctx)
	if err != nil {
		return nil, err
	}
	req := request{
		op: "GetOnlineConnector", method: "GET",
		path: base + "/storageconnectors/onlinefeaturestore",
	}
	cred, err := doAs(ctx, c, id, req, decodeOnlineConnector)
	if err != nil {
		return nil, err
	}
	cred.Region = id
	if c.cfg.External {
		vreq := request{op: "GetVariable", method: "GET", path: "/variables/" + ExternalMySQLVariable}
		host, err := doAs(ctx, c, id, vreq, decodeVariable)
		if err != nil {
			return nil, err
		}
		_, port, _ := net.SplitHostPort(cred.Addr)
		cred.Addr = net.JoinHostPort(host, port)
	}
	return cred, nil
}

// decodeOnlineConnector reads a FeaturestoreJdbcConnectorDTO: its
// connectionString "jdbc:mysql://host:port/db?..." and the "user" and
// "password" of its arguments ([{"name","value"}], FeaturestoreConstants
// ONLINE_FEATURE_STORE_JDBC_USER_ARG / _PASSWORD_ARG). Errors never quote
// the arguments: one of them is the password.
func decodeOnlineConnector(body []byte) (*OnlineCredentials, error) {
	o, err := parseObject(body)
	if err != nil {
		return nil, err
	}
	cs := o.str("connectionString")
	rest, ok := strings.CutPrefix(cs, "jdbc:")
	u, perr := url.Parse(rest)
	if !ok || perr != nil || u.Scheme != "mysql" || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: online connector: connectionString is not jdbc:mysql://host:port/db", ErrMalformed)
	}
	port := u.Port()
	if port == "" {
		port = "3306"
	}
	cred := &OnlineCredentials{
		Addr:     net.JoinHostPort(u.Hostname(), port),
		Database: strings.Trim(u.Path, "/"),
	}
	args, _ := list(o, "arguments", func(b json.RawMessage) ([2]string, error) {
		ao, _ := parseObject(b)
		return [2]string{ao.str("name"), ao.str("value")}, nil
	})
	for _, a := range args {
		switch a[0] {
		case "user":
			cred.User = a[1]
		case "password":
			cred.Password = a[1]
		}
	}
	switch {
	case cred.Database == "":
		return nil, fmt.Errorf("%w: online connector: connectionString names no database", ErrMalformed)
	case cred.User == "":
		return nil, fmt.Errorf("%w: online connector: no user argument", ErrMalformed)
	case cred.Password == "" || cred.Password == "<SECRETPASSWORD>":
		// The template is what the server stores before it substitutes
		// the user's secret (FeaturestoreStorageConnectorController).
		return nil, fmt.Errorf("%w: online connector: no usable password argument", ErrMalformed)
	}
	return cred, nil
}

// decodeVariable reads the RESTApiJsonResponse of GET /variables/{name}:
// the value is its successMessage.
func decodeVariable(body []byte) (string, error) {
	o, err := parseObject(body)
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(o.str("successMessage"))
	if v == "" || strings.ContainsAny(v, "/@?# ") {
		return "", fmt.Errorf("%w: variable %s is empty or not a host name", ErrMalformed, ExternalMySQLVariable)
	}
	return v, nil
}
