package secrets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVerifier(t *testing.T) {
	const pw = "correct-horse-battery"
	v, err := Verifier(pw)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, "SCRAM-SHA-256$4096:") || !Matches(v, "u", pw) || Matches(v, "u", pw+"x") {
		t.Errorf("verifier %s does not match its password only", v)
	}
	if v2, _ := Verifier(pw); v2 == v {
		t.Errorf("two verifiers share a salt")
	}
	// The migrator's one-run password: fewer iterations, the same check
	// (the migrate tests log in with it).
	one, err := OneRunVerifier(pw)
	if err != nil || !strings.HasPrefix(one, "SCRAM-SHA-256$64:") || !Matches(one, "u", pw) || Matches(one, "u", pw+"x") {
		t.Errorf("one-run verifier %s (%v) does not match its password only", one, err)
	}
	// Verifiers PostgreSQL computes itself are matched in the provision
	// tests (a password set by hand, SCRAM and md5).
	for _, bad := range []string{"", "SCRAM-SHA-256$", "SCRAM-SHA-256$x:y$z:w", "plain"} {
		if Matches(bad, "u", pw) {
			t.Errorf("Matches(%q) = true", bad)
		}
	}
	if _, err := Verifier("short"); err == nil {
		t.Errorf("a short password was accepted")
	}
}

func TestCheckAndGenerate(t *testing.T) {
	for _, bad := range []string{"short", "with space in it", "tab\tinside-it", "caf\u00e9-au-lait-password", strings.Repeat("x", 201)} {
		if Check(bad) == nil {
			t.Errorf("Check(%q) accepted it", bad)
		}
	}
	seen := map[string]bool{}
	for range 100 {
		pw := Generate()
		if len(pw) != 32 || Check(pw) != nil || strings.Trim(pw, alphabet) != "" || seen[pw] {
			t.Fatalf("Generate() = %q", pw)
		}
		seen[pw] = true
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".splitschema"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvVar("orders"), "")
	if _, err := Password(dir, "orders"); err == nil || !strings.Contains(err.Error(), "SPLITSCHEMA_PASSWORD_ORDERS") {
		t.Errorf("no password: err = %v", err)
	}
	const u = "postgres://orders_app:s3cretPassw0rd@127.0.0.1:5432/shop?sslmode=disable"
	st, err := Stage(dir, "orders", u, "SCRAM-SHA-256$v")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(Path(dir, "orders")); err == nil {
		t.Errorf("a staged file is in place before Commit")
	}
	if err := st.Commit(); err != nil {
		t.Fatal(err)
	}
	for path, mode := range map[string]os.FileMode{Path(dir, "orders"): 0o600, filepath.Dir(Path(dir, "orders")): 0o700} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v (%v), want %v", path, fi.Mode().Perm(), err, mode)
		}
	}
	if got, err := URL(dir, "orders"); err != nil || got != u {
		t.Errorf("URL = %q, %v", got, err)
	}
	if pw, src, err := Lookup(dir, "orders"); pw != "s3cretPassw0rd" || src != FromFile || err != nil {
		t.Errorf("Lookup = %q, %q, %v", pw, src, err)
	}
	if pw, v := Recorded(dir, "orders"); pw != "s3cretPassw0rd" || v != "SCRAM-SHA-256$v" {
		t.Errorf("Recorded = %q, %q", pw, v)
	}
	t.Setenv(EnvVar("orders"), "from-the-environment")
	if pw, src, _ := Lookup(dir, "orders"); pw != "from-the-environment" || src != FromEnv {
		t.Errorf("the variable does not win: %q, %q", pw, src)
	}
	t.Setenv(EnvVar("orders"), "bad pw")
	if _, err := Password(dir, "orders"); err == nil || strings.Contains(err.Error(), "bad pw") {
		t.Errorf("bad variable: err = %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(Path(dir, "orders")))
	if len(entries) != 1 {
		t.Errorf("secrets folder holds %d files, want 1 (no temporary left)", len(entries))
	}
}
