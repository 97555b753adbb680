package cli

import (
	"errors"
	"io"

	ucli "github.com/urfave/cli/v2"

	"github.com/splitschema/splitschema/internal/lint"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/target"
)

func lintCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "lint",
		Usage: "check the migrations for CI on a scratch database that is dropped afterwards",
		Description: "Applies every service's migrations to a new scratch database (on the embedded cluster or\n" +
			"--database-url, with role names of its own), round-trips them (down to 0, up again), and\n" +
			"checks statically for undeclared links, changes that break another service's foreign key\n" +
			"and lock-unsafe DDL; then compares gen/ with `sqlc diff`. The project's own database and\n" +
			"roles are never touched. Exit status 1 on any error; warnings do not fail.",
		Flags: []ucli.Flag{
			&ucli.BoolFlag{Name: "github", Usage: "print GitHub Actions annotations (::error file=...,line=...::)"},
			&ucli.BoolFlag{Name: "static", Usage: "only the checks that need no database"},
			&ucli.BoolFlag{Name: "no-sqlc", Usage: "do not compare gen/ with sqlc"},
		},
		Action: action(runLint),
	}
}

func runLint(e *env) error {
	if err := needArgs(e, 0, "no arguments"); err != nil {
		return err
	}
	if e.json && e.c.Bool("github") {
		return usageErr(e.c, errors.New("lint: --json and --github are two output formats: pick one"))
	}
	p, err := e.project()
	if err != nil {
		var merr *manifest.Error
		if e.c.Bool("github") && errors.As(err, &merr) {
			_, _ = io.WriteString(e.stdout, lint.GitHubManifest(e.dir, merr))
		}
		return err
	}
	o := lint.Options{Log: e.log, Static: e.c.Bool("static"), SkipSqlc: e.c.Bool("no-sqlc")}
	var srv *target.Server
	if !o.Static {
		if srv, err = e.server(p); err != nil {
			return err
		}
	}
	r, err := lint.Run(e.ctx, p, srv, o)
	if err != nil {
		if e.c.Bool("github") {
			_, _ = io.WriteString(e.stdout, lint.GitHubFailure(err))
		}
		return err
	}
	if e.c.Bool("github") {
		if _, err := io.WriteString(e.stdout, r.GitHub()); err != nil {
			return err
		}
	} else if err := e.emit(r); err != nil {
		return err
	}
	if !r.OK {
		return exitFindings()
	}
	return nil
}
