package pgtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/pgsql"
)

// Cert is a certificate authority and a server certificate it signed, as
// PEM files: what a server with ssl=on and a verify-full client need.
type Cert struct {
	// CA is the authority's certificate, a client's sslrootcert.
	CA string
	// Cert and Key are the server's certificate and private key (mode 0600).
	Cert, Key string
}

// NewCert writes, into dir, a fresh CA and a server certificate for
// localhost and 127.0.0.1 signed by it, valid for a day.
func NewCert(tb testing.TB, dir string) Cert {
	tb.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "splitschema test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		tb.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	c := Cert{CA: filepath.Join(dir, "ca.crt"), Cert: filepath.Join(dir, "server.crt"), Key: filepath.Join(dir, "server.key")}
	for _, f := range []struct {
		path, kind string
		der        []byte
	}{{c.CA, "CERTIFICATE", caDER}, {c.Cert, "CERTIFICATE", der}, {c.Key, "EC PRIVATE KEY", keyDER}} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.kind, Bytes: f.der}), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	return c
}

// EnableSSL turns TLS on in the cluster whose superuser URL is adminURL: it
// writes a fresh certificate into the cluster's data folder (owned by the
// server's user), sets ssl = on, refuses TCP connections without TLS
// (hostnossl ... reject) and reloads the configuration. Clients must then
// use TLS (sslmode=verify-full with the returned Cert's CA works); adminURL
// itself no longer connects when it says sslmode=disable.
func EnableSSL(tb testing.TB, adminURL string) Cert {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		tb.Fatalf("pgtest: enable ssl: %v", err)
	}
	defer conn.Close(context.Background())
	var dataDir, hbaFile string
	if err := conn.QueryRow(ctx, "SELECT current_setting('data_directory'), current_setting('hba_file')").Scan(&dataDir, &hbaFile); err != nil {
		tb.Fatalf("pgtest: enable ssl: %v", err)
	}
	fi, err := os.Stat(dataDir)
	if err != nil {
		tb.Fatalf("pgtest: enable ssl: %v", err)
	}
	c := NewCert(tb, tb.TempDir())
	dst := Cert{CA: c.CA, Cert: filepath.Join(dataDir, "test_server.crt"), Key: filepath.Join(dataDir, "test_server.key")}
	for from, to := range map[string]string{c.Cert: dst.Cert, c.Key: dst.Key} {
		data, err := os.ReadFile(from)
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(to, data, 0o600); err != nil {
			tb.Fatal(err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
			if err := os.Chown(to, int(st.Uid), int(st.Gid)); err != nil {
				tb.Fatal(err)
			}
		}
	}
	for _, sql := range []string{
		"ALTER SYSTEM SET ssl_cert_file = " + quoteLiteral(dst.Cert),
		"ALTER SYSTEM SET ssl_key_file = " + quoteLiteral(dst.Key),
		"ALTER SYSTEM SET ssl = on",
		"SELECT pg_reload_conf()",
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			tb.Fatalf("pgtest: enable ssl: %s: %v", sql, err)
		}
	}
	// The reload is asynchronous: wait until a new session sees it.
	for range 100 {
		c2, err := pgx.Connect(ctx, adminURL)
		if err == nil {
			var on string
			err = c2.QueryRow(ctx, "SHOW ssl").Scan(&on)
			c2.Close(context.Background())
			if err == nil && on == "on" {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	hba, err := os.ReadFile(hbaFile)
	if err != nil {
		tb.Fatalf("pgtest: enable ssl: %v", err)
	}
	if err := os.WriteFile(hbaFile, append([]byte("hostnossl all all all reject\n"), hba...), 0o600); err != nil {
		tb.Fatalf("pgtest: enable ssl: %v", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		tb.Fatalf("pgtest: enable ssl: %v", err)
	}
	for range 100 {
		c2, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return dst // refused without TLS: in force
		}
		c2.Close(context.Background())
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatal("pgtest: enable ssl: connections without TLS are still accepted")
	return dst
}

func quoteLiteral(s string) string { return pgsql.Literal(s) }
