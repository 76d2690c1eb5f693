package featurestore

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// onlineLogin is one region's online-store login, as found in its
// "onlinefeaturestore" storage connector. Its password never reaches a
// log, an error or a String.
type onlineLogin struct {
	addr     string // host:port
	database string
	user     string
	password string
}

// String keeps the password out of logs and errors.
func (l onlineLogin) String() string {
	return fmt.Sprintf("{addr=%s database=%s user=%s password=%s}", l.addr, l.database, l.user, redacted(l.password))
}

func (l onlineLogin) mysqlConfig(database string) *mysql.Config {
	m := mysql.NewConfig()
	m.Net, m.Addr, m.User, m.Passwd = "tcp", l.addr, l.user, l.password
	m.DBName = l.database
	if database != "" {
		m.DBName = database
	}
	return m
}

// parseJDBC reads the address and database of a storage connector's JDBC
// URL, "jdbc:mysql://host:port/db?options" (hsfs util_sql.py reads the same
// URL). externalHost, when set, replaces the host, as hsfs does for
// clients outside the cluster. The URL is outside input: what it cannot
// read is an error that does not quote it (it may carry credentials).
func parseJDBC(s, externalHost string) (addr, database string, err error) {
	rest, ok := strings.CutPrefix(s, "jdbc:")
	if !ok {
		return "", "", errors.New("the connection string is not a jdbc: URL")
	}
	u, perr := url.Parse(rest)
	if perr != nil || u.Scheme != "mysql" || u.Host == "" || u.Opaque != "" {
		return "", "", errors.New("the connection string is not a jdbc:mysql://host:port/ URL")
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "3306"
	}
	if externalHost != "" {
		host = externalHost
	}
	if host == "" {
		return "", "", errors.New("the connection string has no host")
	}
	database = strings.TrimPrefix(u.Path, "/")
	if strings.Contains(database, "/") {
		return "", "", errors.New("the connection string's database has a slash")
	}
	return net.JoinHostPort(host, port), database, nil
}
