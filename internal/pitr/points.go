package pitr

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/inspect"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/pgsql"
	"github.com/splitschema/splitschema/internal/target"
)

// PointsFile is where the project's restore points are listed, one JSON
// document a line, relative to the project folder.
const PointsFile = ".splitschema/pitr-points.jsonl"

// maxPointName is the longest restore point name PostgreSQL takes.
const maxPointName = 63

// Point is a named restore point: a WAL record a restore can stop at.
type Point struct {
	Name string    `json:"name"`
	Time time.Time `json:"time"`
	LSN  string    `json:"lsn"`
	// Versions are every service's migration version when the point was
	// made (a service without a version table is left out).
	Versions map[string]int64 `json:"versions"`
}

// Points lists the project's restore points, oldest first. A project
// without any has an empty list.
func Points(p *manifest.Project) ([]Point, error) {
	f, err := os.Open(filepath.Join(p.Dir, PointsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return []Point{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read restore points: %w", err)
	}
	defer f.Close()
	out := []Point{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var pt Point
		if err := json.Unmarshal(sc.Bytes(), &pt); err != nil {
			return nil, fmt.Errorf("read restore points: %s line %d: %w", PointsFile, line, err)
		}
		out = append(out, pt)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read restore points: %w", err)
	}
	return out, nil
}

// FindPoint returns the restore point called name.
func FindPoint(p *manifest.Project, name string) (*Point, error) {
	pts, err := Points(p)
	if err != nil {
		return nil, err
	}
	for i := range pts {
		if pts[i].Name == name {
			return &pts[i], nil
		}
	}
	return nil, fmt.Errorf("no restore point %q (`splitschema pitr points` lists them)", name)
}

// Archiving reports whether the server archives WAL (archive_mode is not
// off): only then is a restore point worth making.
func Archiving(ctx context.Context, conn *pgx.Conn) (bool, error) {
	v, err := show(ctx, conn, "archive_mode")
	if err != nil {
		return false, err
	}
	return v != "off", nil
}

// Mark makes the restore point name on srv and records it, when the server
// archives WAL; otherwise it does nothing and returns nil. A name already
// used gets a suffix, since a restore stops at the first point of a name.
// srv's Database may not exist yet (a first apply): the point is then made
// from the maintenance database, with no versions.
func Mark(ctx context.Context, p *manifest.Project, srv *target.Server, name string) (*Point, error) {
	conn, err := srv.Connect(ctx, srv.Database)
	if pgsql.IsCode(err, pgsql.InvalidCatalogName) {
		conn, err = srv.Connect(ctx, "postgres")
	}
	if err != nil {
		return nil, fmt.Errorf("restore point %q: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return MarkConn(ctx, conn, p, name)
}

// MarkConn is Mark on an open admin connection.
func MarkConn(ctx context.Context, conn *pgx.Conn, p *manifest.Project, name string) (*Point, error) {
	on, err := Archiving(ctx, conn)
	if err != nil || !on {
		return nil, err
	}
	versions, err := serviceVersions(ctx, conn, p)
	if err != nil {
		return nil, fmt.Errorf("restore point %q: %w", name, err)
	}
	unlock, err := lockPoints(p)
	if err != nil {
		return nil, fmt.Errorf("restore point %q: %w", name, err)
	}
	defer unlock()
	pts, err := Points(p)
	if err != nil {
		return nil, err
	}
	name = uniqueName(name, pts)
	pt := &Point{Name: name, Versions: versions}
	if err := conn.QueryRow(ctx, "SELECT pg_catalog.pg_create_restore_point($1)::text, clock_timestamp()", name).Scan(&pt.LSN, &pt.Time); err != nil {
		return nil, fmt.Errorf("restore point %q: %w", name, err)
	}
	pt.Time = pt.Time.UTC()
	line, err := json.Marshal(pt)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(p.Dir, PointsFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("record restore point %q: %w", name, err)
	}
	_, err = f.Write(append(line, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("record restore point %q: %w", name, err)
	}
	return pt, nil
}

// uniqueName shortens name to what PostgreSQL takes and, when a point of
// that name exists, adds " (2)", " (3)"...
func uniqueName(name string, pts []Point) string {
	used := map[string]bool{}
	for _, p := range pts {
		used[p.Name] = true
	}
	base := truncate(name, maxPointName)
	if !used[base] {
		return base
	}
	for n := 2; ; n++ {
		suffix := fmt.Sprintf(" (%d)", n)
		cand := truncate(name, maxPointName-len(suffix)) + suffix
		if !used[cand] {
			return cand
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return strings.TrimRight(s, " ")
}

// serviceVersions reads each service's migration version.
func serviceVersions(ctx context.Context, conn *pgx.Conn, p *manifest.Project) (map[string]int64, error) {
	var schemas []string
	for _, s := range p.Services {
		schemas = append(schemas, s.Schema)
	}
	exists, err := inspect.ExistingSchemas(ctx, conn, schemas)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, s := range p.Services {
		if !exists[s.Schema] {
			continue
		}
		v, err := inspect.Version(ctx, conn, s.Schema)
		if err != nil {
			return nil, err
		}
		if v != nil {
			out[s.Name] = *v
		}
	}
	return out, nil
}

// lockPoints serialises writers of the points file.
func lockPoints(p *manifest.Project) (func(), error) {
	dir := filepath.Join(p.Dir, filepath.Dir(PointsFile))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(p.Dir, PointsFile+".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("another splitschema holds %s.lock for more than 30s", PointsFile)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
