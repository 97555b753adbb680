package localpg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrNoBinaries is returned by FindBinaries (and so by New) when no folder
// holds initdb, pg_ctl and postgres. Its message tells the user what to do.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found " +
	"on PATH, through pg_config --bindir or under /usr/lib/postgresql/*/bin: " +
	"install them (apt-get install postgresql), name their folder in " + ServerBinDirEnv + " or pass --database-url")

// ServerBinDirEnv is the environment variable that names the folder of the
// server programs to use (initdb, pg_ctl, postgres), e.g. one that
// scripts/fetch-postgres.sh unpacked. When it is set, FindBinaries looks
// nowhere else.
const ServerBinDirEnv = "SPLITSCHEMA_SERVER_BINDIR"

// MinVersion is the oldest PostgreSQL major version the embedded cluster runs
// (scram-sha-256 logins).
const MinVersion = 10

// serverPrograms must all sit in one folder for it to count as a bindir.
var serverPrograms = []string{"initdb", "pg_ctl", "postgres"}

// Binaries is a folder of PostgreSQL server programs.
type Binaries struct {
	Dir         string `json:"dir"`          // folder holding initdb, pg_ctl and postgres
	Version     int    `json:"version"`      // major version of that postgres, e.g. 15
	FullVersion string `json:"full_version"` // as postgres --version says it, e.g. "15.18 (Debian 15.18-0+deb12u1)"
}

// FindBinaries locates the PostgreSQL server programs: in the folder
// SPLITSCHEMA_SERVER_BINDIR names when it is set (an explicit choice: they
// must be there), else initdb, pg_ctl and postgres on PATH (symlinks
// resolved, all three in one folder), else the folder `pg_config --bindir`
// names, else the newest /usr/lib/postgresql/*/bin or /usr/pgsql-*/bin. It
// returns ErrNoBinaries when none holds all three.
func FindBinaries() (Binaries, error) {
	if dir := os.Getenv(ServerBinDirEnv); dir != "" {
		b, err := BinariesIn(dir)
		if err != nil {
			return Binaries{}, fmt.Errorf("%s: %w", ServerBinDirEnv, err)
		}
		return b, nil
	}
	return defaultFinder.find()
}

// BinariesIn returns the server programs in dir, which must hold initdb,
// pg_ctl and a postgres that runs and is MinVersion or newer.
func BinariesIn(dir string) (Binaries, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Binaries{}, fmt.Errorf("server binaries in %s: %w", dir, err)
	}
	var missing []string
	for _, name := range serverPrograms {
		if !isExecutable(filepath.Join(abs, name)) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return Binaries{}, fmt.Errorf("server binaries in %s: no executable %s there", abs, strings.Join(missing, ", "))
	}
	return binariesAt(abs)
}

// binariesAt checks the version of the postgres in dir.
func binariesAt(dir string) (Binaries, error) {
	full, major, err := ProgramVersion(context.Background(), filepath.Join(dir, "postgres"))
	if err != nil {
		return Binaries{}, fmt.Errorf("find binaries: %w", err)
	}
	if major < MinVersion {
		return Binaries{}, fmt.Errorf("find binaries: PostgreSQL %s in %s is too old: the embedded cluster needs %d or newer", full, dir, MinVersion)
	}
	return Binaries{Dir: dir, Version: major, FullVersion: full}, nil
}

// Path returns the path of the named program (pg_dump, pg_restore, psql...):
// the one in b.Dir when it is there, so clients match the server's version,
// else the one on PATH, else b.Dir/name.
func (b Binaries) Path(name string) string {
	p := filepath.Join(b.Dir, name)
	if isExecutable(p) {
		return p
	}
	if lp, err := exec.LookPath(name); err == nil {
		return lp
	}
	return p
}

// finder holds FindBinaries' look-ups so tests can replace them.
type finder struct {
	lookPath func(string) (string, error)
	pgConfig func() (string, error) // bindir pg_config reports
	globs    []string               // version folders, newest picked first
}

var defaultFinder = finder{
	lookPath: exec.LookPath,
	pgConfig: func() (string, error) {
		path, err := exec.LookPath("pg_config")
		if err != nil {
			return "", err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, path, "--bindir").Output()
		return strings.TrimSpace(string(out)), err
	},
	globs: []string{"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin"},
}

func (f finder) find() (Binaries, error) {
	for _, dir := range f.candidates() {
		if !hasServerPrograms(dir) {
			continue
		}
		return binariesAt(dir)
	}
	return Binaries{}, ErrNoBinaries
}

// candidates lists the folders to try, in order.
func (f finder) candidates() []string {
	var dirs []string
	if p, err := f.lookPath("initdb"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	if f.pgConfig != nil {
		if d, err := f.pgConfig(); err == nil && d != "" {
			dirs = append(dirs, d)
		}
	}
	for _, g := range f.globs {
		matches, _ := filepath.Glob(g)
		sort.Slice(matches, func(i, j int) bool { return versionKey(matches[i]) > versionKey(matches[j]) })
		dirs = append(dirs, matches...)
	}
	return dirs
}

var digits = regexp.MustCompile(`[0-9]+(\.[0-9]+)?`)

// versionKey orders /usr/lib/postgresql/9.6/bin < .../15/bin and
// /usr/pgsql-9.6/bin < /usr/pgsql-15/bin by the folder above bin.
func versionKey(dir string) float64 {
	m := digits.FindString(filepath.Base(filepath.Dir(dir)))
	if m == "" {
		return -1
	}
	v, _ := strconv.ParseFloat(m, 64)
	return v
}

func hasServerPrograms(dir string) bool {
	for _, name := range serverPrograms {
		if !isExecutable(filepath.Join(dir, name)) {
			return false
		}
	}
	return true
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

var versionPattern = regexp.MustCompile(`\(PostgreSQL\) ([0-9]+)(?:\.([0-9]+))?(.*)`)

// ProgramVersion runs `path --version` for a PostgreSQL program (postgres,
// pg_dump, psql...) and returns the version as printed, e.g.
// "15.18 (Debian 15.18-0+deb12u1)", and its major number (9.6 gives 9).
func ProgramVersion(ctx context.Context, path string) (full string, major int, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return "", 0, fmt.Errorf("%s --version: %w", path, err)
	}
	return parseVersion(path, string(out))
}

func parseVersion(path, out string) (string, int, error) {
	m := versionPattern.FindStringSubmatch(strings.TrimSpace(out))
	if m == nil {
		return "", 0, fmt.Errorf("%s --version: unexpected output %q", path, strings.TrimSpace(out))
	}
	major, _ := strconv.Atoi(m[1])
	full := m[1]
	if m[2] != "" {
		full += "." + m[2]
	}
	full += m[3]
	return full, major, nil
}
