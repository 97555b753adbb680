package cli

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/crypt"
	"github.com/splitschema/splitschema/internal/pgtest"
	"github.com/splitschema/splitschema/internal/s3test"
)

// The example shop backed up to a real object store, encrypted, as a user
// configures it: backups: s3://..., the s3: and encryption: settings,
// credentials and the identity from the environment. backup, list,
// verify --restore-test, a one-service restore in place, a restore into a
// new database, and prune.
func TestBackupToObjectStore(t *testing.T) {
	srv := s3test.Server(t)
	bucket := s3test.NewBucket(t)
	dbURL := pgtest.NewDatabase(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	database := strings.TrimPrefix(u.Path, "/")
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "backup.agekey")
	if err := os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv(crypt.IdentityFileEnv, keyFile)

	dir := filepath.Join(t.TempDir(), "shop")
	for _, f := range []string{"splitschema.yaml", "schemas", "migrations"} {
		copyTree(t, filepath.Join(repoRoot(t), f), filepath.Join(dir, f))
	}
	conf, err := os.ReadFile(filepath.Join(dir, "splitschema.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(conf), "database: shop", "database: "+database, 1)
	s = strings.Replace(s, "backups: backups", "backups: s3://"+bucket+"/shop", 1)
	s = strings.Replace(s, `prefix: ""`, "prefix: os_", 1)
	s += "s3:\n  endpoint: " + srv.Endpoint + "\n  region: " + srv.Region + "\n  path_style: true\n  allow_http: true\n" +
		"encryption:\n  recipients:\n    - " + id.Recipient().String() + "\n"
	if err := os.WriteFile(filepath.Join(dir, "splitschema.yaml"), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	expect := func(wantCode int, args ...string) string {
		t.Helper()
		code, out, errOut := run(t, append([]string{"--dir", dir, "--database-url", dbURL}, args...)...)
		if code != wantCode {
			t.Fatalf("%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, wantCode, out, errOut)
		}
		if strings.Contains(out+errOut, srv.SecretKey) || strings.Contains(out+errOut, "AGE-SECRET-KEY") {
			t.Fatalf("%v: a secret is in the output:\n%s\n%s", args, out, errOut)
		}
		return out
	}
	expect(0, "apply")
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if _, err := conn.Exec(t.Context(), `
		INSERT INTO customers.customer (email, name) SELECT 'c' || i || '@example.org', 'c' || i FROM generate_series(1, 50) i;
		INSERT INTO orders.customer_order (customer_id) SELECT id FROM customers.customer;
		INSERT INTO shipping.shipment (order_id, customer_id, address, carrier) SELECT id, customer_id, 'street 1', 'post' FROM orders.customer_order`); err != nil {
		t.Fatal(err)
	}
	backup := func() string {
		var b struct{ ID, Path string }
		if err := json.Unmarshal([]byte(expect(0, "backup", "--json", "--jobs", "2")), &b); err != nil {
			t.Fatal(err)
		}
		if want := "s3://" + bucket + "/shop/" + b.ID + "/"; b.Path != want {
			t.Errorf("backup path %s, want %s", b.Path, want)
		}
		return b.ID
	}
	first := backup()
	if out := expect(0, "backup", "list"); !strings.Contains(out, first) || !strings.Contains(out, "complete") {
		t.Errorf("backup list does not show %s complete:\n%s", first, out)
	}
	out := expect(0, "backup", "verify", first, "--restore-test", "--jobs", "2")
	for _, want := range []string{"all ", "files match the manifest", "verified"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify --restore-test does not say %q:\n%s", want, out)
		}
	}

	// A bad deploy wipes shipping; shipping alone comes back from the store.
	if _, err := conn.Exec(t.Context(), "DELETE FROM shipping.shipment"); err != nil {
		t.Fatal(err)
	}
	expect(0, "restore", first, "--service", "shipping", "--in-place", "--jobs", "2")
	var after int64
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM shipping.shipment").Scan(&after); err != nil || after != 50 {
		t.Errorf("shipments after the one-service restore: %d (%v), want 50", after, err)
	}
	out = expect(0, "restore", first, "--target-db", database+"_copy", "--jobs", "2")
	if !strings.Contains(out, "verified") {
		t.Errorf("restore does not say verified:\n%s", out)
	}

	second := backup()
	out = expect(0, "backup", "prune", "--keep", "1", "--jobs", "2")
	if !strings.Contains(out, "kept "+second) || !strings.Contains(out, "deleted "+first) {
		t.Errorf("prune --keep 1 did not keep %s and delete %s:\n%s", second, first, out)
	}
	if out := expect(0, "backup", "list"); strings.Contains(out, first) {
		t.Errorf("backup list still shows the pruned %s:\n%s", first, out)
	}
}
