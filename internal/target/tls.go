package target

import (
	"net/url"
	"os"
	"strings"
)

// tlsParam is a libpq connection parameter that decides how a connection
// uses TLS, with the environment variable libpq (and pgx) read it from.
type tlsParam struct{ key, env string }

// tlsParams are the TLS settings a client tool must get exactly as the
// connection's own settings say: a weaker sslmode would expose the
// connection, a stronger one would fail on a server without TLS. The
// password of an encrypted client key (sslpassword) is left out on
// purpose: libpq reads it from no variable, and it never goes on a
// command line.
var tlsParams = []tlsParam{
	{"sslmode", "PGSSLMODE"},
	{"sslrootcert", "PGSSLROOTCERT"},
	{"sslcert", "PGSSLCERT"},
	{"sslkey", "PGSSLKEY"},
	{"sslcertmode", "PGSSLCERTMODE"},
	{"sslsni", "PGSSLSNI"},
	{"sslnegotiation", "PGSSLNEGOTIATION"},
}

// defaultSSLMode is what libpq and pgx do when nothing says otherwise: try
// TLS, fall back to a plain connection.
const defaultSSLMode = "prefer"

// tlsSettings reads the TLS settings of a connection string as pgx does:
// the string's own, else the PG* variables of the environment, else
// libpq's default sslmode.
func tlsSettings(connString string) map[string]string {
	given := connParams(connString)
	out := map[string]string{}
	for _, p := range tlsParams {
		if v, ok := given[p.key]; ok {
			out[p.key] = v
		} else if v := os.Getenv(p.env); v != "" {
			out[p.key] = v
		}
	}
	if out["sslmode"] == "" {
		out["sslmode"] = defaultSSLMode
	}
	return out
}

// connParams returns the parameters of a postgres:// URL's query or of a
// keyword/value connection string.
func connParams(s string) map[string]string {
	out := map[string]string{}
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		u, err := url.Parse(s)
		if err != nil {
			return out
		}
		for k, v := range u.Query() {
			if len(v) > 0 {
				out[k] = v[len(v)-1]
			}
		}
		return out
	}
	for len(s) > 0 {
		s = strings.TrimLeft(s, " \t\n\r")
		key, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		key = strings.TrimSpace(key)
		rest = strings.TrimLeft(rest, " \t")
		var val strings.Builder
		if strings.HasPrefix(rest, "'") {
			i := 1
			for ; i < len(rest) && rest[i] != '\''; i++ {
				if rest[i] == '\\' && i+1 < len(rest) {
					i++
				}
				val.WriteByte(rest[i])
			}
			s = rest[min(i+1, len(rest)):]
		} else {
			end := strings.IndexAny(rest, " \t\n\r")
			if end < 0 {
				end = len(rest)
			}
			val.WriteString(rest[:end])
			s = rest[end:]
		}
		out[key] = val.String()
	}
	return out
}

// tlsEnv renders the TLS settings as libpq variables.
func (s *Server) tlsEnv() []string {
	var env []string
	for _, p := range tlsParams {
		if v, ok := s.tls[p.key]; ok {
			env = append(env, p.env+"="+v)
		}
	}
	return env
}

// tlsQuery renders the TLS settings as URL parameters.
func (s *Server) tlsQuery() url.Values {
	q := url.Values{}
	for _, p := range tlsParams {
		if v, ok := s.tls[p.key]; ok {
			q.Set(p.key, v)
		}
	}
	return q
}

// SSLMode is the connection's sslmode, as libpq understands it.
func (s *Server) SSLMode() string { return s.tls["sslmode"] }
