package backup

import (
	"net/url"
	"strings"
	"testing"

	"github.com/splitschema/splitschema/internal/backup/backuptest"
	"github.com/splitschema/splitschema/internal/pgtest"
)

// withoutSSLMode returns u with its sslmode removed: what a user types.
func withoutSSLMode(t *testing.T, u string) string {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := pu.Query()
	q.Del("sslmode")
	pu.RawQuery = q.Encode()
	return pu.String()
}

// pg_restore gets exactly the URL's TLS settings. A server without TLS and
// a URL that says nothing (libpq's prefer) works, as psql would; a server
// with TLS and sslmode=verify-full with its CA works, verified.
func TestRestoreTLSParity(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	res := mustBackup(t, shop, Options{})

	// SSL off, nothing said: prefer, not require.
	plain := replaceDB(withoutSSLMode(t, pgtest.Server(t).URL), shop.Server.Database+"_plain")
	o := RestoreOptions{TargetURL: plain, Jobs: 2, Audit: passAudit}
	if _, err := Restore(testCtx(t), shop.Project, shop.Server, res.ID, o); err != nil {
		t.Fatalf("restore into a server without TLS, URL without sslmode: %v", err)
	}
	t.Cleanup(func() {
		backuptest.ExecURL(t, pgtest.Server(t).URL, "DROP DATABASE IF EXISTS "+ident(shop.Server.Database+"_plain")+" WITH (FORCE)")
	})

	// SSL on, verify-full against the server's CA.
	second := secondCluster(t)
	cert := pgtest.EnableSSL(t, second)
	pu, _ := url.Parse(replaceDB(second, "shopcopy_tls"))
	q := pu.Query()
	q.Set("sslmode", "verify-full")
	q.Set("sslrootcert", cert.CA)
	pu.RawQuery = q.Encode()
	o = RestoreOptions{TargetURL: pu.String(), Jobs: 2, Audit: passAudit}
	if _, err := Restore(testCtx(t), shop.Project, shop.Server, res.ID, o); err != nil {
		t.Fatalf("restore into a server with TLS, verify-full: %v", err)
	}
	// The server refuses connections without TLS: pg_restore used it.
	if !strings.Contains(pu.String(), "verify-full") {
		t.Fatal("test URL lost its sslmode")
	}
}
