package demo

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/splitschema/splitschema/internal/target"
)

// independentDump is one service's own backup, the microservice way.
type independentDump struct {
	Service string    `json:"service"`
	Schema  string    `json:"schema"`
	File    string    `json:"-"`
	Started time.Time `json:"started"`
}

// dumpIndependently takes one pg_dump per service schema, in the given
// order, starting each interval after the previous one started, as
// independent teams would. It stops early when ctx ends.
func dumpIndependently(ctx context.Context, srv *target.Server, pgDump, db, dir string, services, schemas []string, interval time.Duration) ([]independentDump, error) {
	var dumps []independentDump
	next := time.Now()
	for i, svc := range services {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Until(next)):
		}
		next = next.Add(interval)
		d := independentDump{Service: svc, Schema: schemas[i], File: filepath.Join(dir, svc+".dump"), Started: time.Now()}
		if err := runTool(ctx, srv, db, pgDump, "--format=custom", "--schema="+d.Schema, "--file="+d.File); err != nil {
			return nil, fmt.Errorf("independent backup of %s: %w", svc, err)
		}
		dumps = append(dumps, d)
	}
	return dumps, nil
}

// restoreIndependently loads every service's own dump into database db,
// which must exist. The schemas and rows come first; the constraints
// afterwards, one service at a time, and a foreign key that the mismatched
// dumps violate fails to come back: it is counted, as separate databases
// would not have had it at all.
func restoreIndependently(ctx context.Context, srv *target.Server, pgRestore, db string, dumps []independentDump) (failedConstraints int, err error) {
	for _, section := range []string{"pre-data", "data"} {
		for _, d := range dumps {
			if err := runTool(ctx, srv, db, pgRestore, "--section="+section, "--exit-on-error", "--dbname="+db, d.File); err != nil {
				return 0, fmt.Errorf("restore %s of %s's own backup: %w", section, d.Service, err)
			}
		}
	}
	for _, d := range dumps {
		err := runTool(ctx, srv, db, pgRestore, "--section=post-data", "--dbname="+db, d.File)
		if err != nil {
			failedConstraints += strings.Count(err.Error(), "violates foreign key constraint")
		}
	}
	return failedConstraints, nil
}

// runTool runs a PostgreSQL client program against database db; the
// password goes through the environment, never argv.
func runTool(ctx context.Context, srv *target.Server, db, program string, args ...string) error {
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.Env = srv.ToolEnv(db)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", filepath.Base(program), err, target.Redact(strings.TrimSpace(stderr.String())))
	}
	return nil
}
