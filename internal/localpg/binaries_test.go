package localpg

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindBinaries(t *testing.T) {
	b, err := FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	if b.Version < MinVersion || b.FullVersion == "" {
		t.Errorf("binaries = %+v, want a version >= %d", b, MinVersion)
	}
	for _, name := range []string{"initdb", "pg_ctl", "postgres", "pg_dump", "pg_restore", "psql"} {
		if p := b.Path(name); !isExecutable(p) {
			t.Errorf("Path(%q) = %s, not an executable", name, p)
		}
	}
	if got, want := b.Path("pg_dump"), filepath.Join(b.Dir, "pg_dump"); isExecutable(want) && got != want {
		t.Errorf("Path(pg_dump) = %s, want the one beside the server, %s", got, want)
	}
}

// fakeBin makes dir/{initdb,pg_ctl,postgres}, postgres printing version.
func fakeBin(t *testing.T, dir, version string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range serverPrograms {
		script := "#!/bin/sh\necho '" + name + " (PostgreSQL) " + version + "'\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFinderOrder(t *testing.T) {
	root := t.TempDir()
	fakeBin(t, filepath.Join(root, "lib", "9.6", "bin"), "9.6.24")
	fakeBin(t, filepath.Join(root, "lib", "12", "bin"), "12.3")
	fakeBin(t, filepath.Join(root, "lib", "16", "bin"), "16.1 (Debian 16.1-1)")
	fakeBin(t, filepath.Join(root, "config"), "14.0")
	fakeBin(t, filepath.Join(root, "path"), "17.2")
	notFound := func(string) (string, error) { return "", errors.New("not found") }
	noConfig := func() (string, error) { return "", errors.New("no pg_config") }
	glob := []string{filepath.Join(root, "lib", "*", "bin")}

	tests := []struct {
		name     string
		f        finder
		wantDir  string
		wantFull string
	}{
		{"newest version folder", finder{notFound, noConfig, glob}, filepath.Join(root, "lib", "16", "bin"), "16.1 (Debian 16.1-1)"},
		{"pg_config before folders", finder{notFound, func() (string, error) { return filepath.Join(root, "config"), nil }, glob}, filepath.Join(root, "config"), "14.0"},
		{"PATH first", finder{func(string) (string, error) { return filepath.Join(root, "path", "initdb"), nil }, noConfig, glob}, filepath.Join(root, "path"), "17.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.f.find()
			if err != nil {
				t.Fatal(err)
			}
			if b.Dir != tt.wantDir || b.FullVersion != tt.wantFull {
				t.Errorf("found %s %q, want %s %q", b.Dir, b.FullVersion, tt.wantDir, tt.wantFull)
			}
		})
	}

	t.Run("none", func(t *testing.T) {
		_, err := finder{notFound, noConfig, []string{filepath.Join(root, "nothing", "*")}}.find()
		if !errors.Is(err, ErrNoBinaries) {
			t.Fatalf("err = %v, want ErrNoBinaries", err)
		}
		for _, hint := range []string{"apt-get install postgresql", "--database-url"} {
			if !strings.Contains(err.Error(), hint) {
				t.Errorf("error %q lacks hint %q", err, hint)
			}
		}
	})
	t.Run("too old", func(t *testing.T) {
		_, err := finder{notFound, noConfig, []string{filepath.Join(root, "lib", "9.6", "bin")}}.find()
		if err == nil || !strings.Contains(err.Error(), "too old") {
			t.Fatalf("err = %v, want too old", err)
		}
	})
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		out   string
		full  string
		major int
	}{
		{"postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", "15.18 (Debian 15.18-0+deb12u1)", 15},
		{"pg_dump (PostgreSQL) 9.6.24", "9.6.24", 9},
		{"psql (PostgreSQL) 17beta1", "17beta1", 17},
	}
	for _, tt := range tests {
		full, major, err := parseVersion("x", tt.out)
		if err != nil || full != tt.full || major != tt.major {
			t.Errorf("parseVersion(%q) = %q, %d, %v; want %q, %d", tt.out, full, major, err, tt.full, tt.major)
		}
	}
	if _, _, err := parseVersion("x", "garbage"); err == nil {
		t.Error("parseVersion(garbage) succeeded")
	}
}

func TestCheckReachable(t *testing.T) {
	// t.TempDir's parent is private; this test needs a reachable root.
	root, err := os.MkdirTemp("", "reachable-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	open := filepath.Join(root, "open", "x")
	closed := filepath.Join(root, "closed", "x")
	for dir, mode := range map[string]os.FileMode{filepath.Dir(open): 0o755, filepath.Dir(closed): 0o700} {
		if err := os.Mkdir(dir, mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(dir, mode)
	}
	os.Chmod(root, 0o755)
	// A user that owns nothing here, whoever runs the test.
	u := &serverUser{Name: "someone", UID: uint32(os.Getuid()) + 4242, GID: uint32(os.Getgid()) + 4242}
	if err := checkReachable(open, u); err != nil {
		t.Errorf("checkReachable(open) = %v", err)
	}
	if err := checkReachable(closed, u); err == nil || !strings.Contains(err.Error(), filepath.Dir(closed)) {
		t.Errorf("checkReachable(closed) = %v, want an error naming %s", err, filepath.Dir(closed))
	}
}

func TestOptions(t *testing.T) {
	if _, err := New(t.TempDir(), nil, WithRuntimeDir("relative/dir")); err == nil {
		t.Error("WithRuntimeDir(relative) accepted")
	}
	if _, err := New(filepath.Join(t.TempDir(), "missing"), nil); err == nil {
		t.Error("New(missing folder) accepted")
	}
	if got, want := confQuote(`/a b/it's\x`), `'/a b/it''s\\x'`; got != want {
		t.Errorf("confQuote = %s, want %s", got, want)
	}
}

func TestServerBinDirEnv(t *testing.T) {
	root := t.TempDir()
	chosen := filepath.Join(root, "chosen")
	fakeBin(t, chosen, "18.4")
	t.Setenv(ServerBinDirEnv, chosen)
	b, err := FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	if b.Dir != chosen || b.Version != 18 || b.FullVersion != "18.4" {
		t.Errorf("FindBinaries with %s = %+v, want %s, 18.4", ServerBinDirEnv, b, chosen)
	}

	// An explicit choice is not second-guessed: no fallback elsewhere.
	incomplete := filepath.Join(root, "incomplete")
	fakeBin(t, incomplete, "17.2")
	os.Remove(filepath.Join(incomplete, "pg_ctl"))
	t.Setenv(ServerBinDirEnv, incomplete)
	if _, err := FindBinaries(); err == nil || !strings.Contains(err.Error(), ServerBinDirEnv) || !strings.Contains(err.Error(), "no executable pg_ctl") {
		t.Errorf("FindBinaries with an incomplete %s: err = %v, want one naming the variable and pg_ctl", ServerBinDirEnv, err)
	}
	if _, err := New(t.TempDir(), nil); err == nil {
		t.Error("New with an incomplete folder in the variable succeeded")
	}

	// WithBinDir wins over the variable.
	c, err := New(t.TempDir(), nil, WithBinDir(chosen))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Binaries().Dir; got != chosen {
		t.Errorf("WithBinDir: binaries in %s, want %s", got, chosen)
	}
	if _, err := New(t.TempDir(), nil, WithBinDir(incomplete)); err == nil {
		t.Error("New(WithBinDir(incomplete)) succeeded")
	}
}
