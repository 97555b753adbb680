package cli

import (
	"errors"
	"fmt"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/splitschema/splitschema/internal/audit"
	"github.com/splitschema/splitschema/internal/pipeline"
	"github.com/splitschema/splitschema/internal/provision"
	"github.com/splitschema/splitschema/internal/secrets"
)

func provisionCommands() []*ucli.Command {
	deferLinks := &ucli.BoolFlag{Name: "defer-links", Usage: "leave links to tables or columns that do not exist yet to the migrations instead of failing"}
	return []*ucli.Command{
		{
			Name:  "plan",
			Usage: "print the SQL that `provision` would run, grouped by service, without running it",
			Description: "Reads the live catalog once and compares it with the manifest: missing roles, schemas, grants and\n" +
				"default privileges, and drift (privileges granted by hand, role attributes changed by hand) each show\n" +
				"as the statement that fixes it. Schemas and roles that look like a service's but are not declared\n" +
				"are listed, with their tables and rows; splitschema never drops them.",
			Flags: []ucli.Flag{
				&ucli.BoolFlag{Name: "detailed-exitcode", Usage: "exit 0 when there is nothing to do, 2 when changes are pending, 1 on error"},
				deferLinks,
			},
			Action: action(runPlan),
		},
		{
			Name:  "provision",
			Usage: "create or repair the database, the service roles, schemas and grants, and the guard",
			Description: "Applies the plan in one transaction under the provisioning lock; a second run changes nothing.\n" +
				"Application passwords come from SPLITSCHEMA_PASSWORD_<SERVICE>, else from\n" +
				".splitschema/secrets/<service>.env, else are generated; whenever a password is set it is written\n" +
				"to that file (mode 0600). Passwords are never printed. An existing role whose password is known\n" +
				"here neither way keeps it (with a warning): --new-password gives it a new one.",
			Flags: []ucli.Flag{
				&ucli.StringSliceFlag{Name: "new-password", Usage: "give `SERVICE`'s application role a new generated password (repeatable)"},
				deferLinks,
			},
			Action: action(runProvision),
		},
		{
			Name:  "audit",
			Usage: "prove on the live database that every service is isolated (exit 1 on any error finding)",
			Description: "Logs in as each application role and tries to read and write the other services' tables, create\n" +
				"objects and SET ROLE; as each owner role tries DDL on the other schemas and the DROP ... CASCADE the\n" +
				"guard must stop; checks roles, memberships, privileges, PUBLIC, foreign keys and links in the\n" +
				"catalog. Every attempt is rolled back.",
			Action: action(runAudit),
		},
		{
			Name:  "url",
			Usage: "print a service's connection URL, password included",
			Flags: []ucli.Flag{
				&ucli.StringFlag{Name: "service", Usage: "the `SERVICE` whose application role's URL to print (required)"},
			},
			Action: action(runURL),
		},
	}
}

func (e *env) provisionOptions() provision.Options {
	return provision.Options{DeferLinks: e.c.Bool("defer-links"), NewPasswords: e.c.StringSlice("new-password")}
}

func runPlan(e *env) error {
	p, srv, err := e.projectServer()
	if err != nil {
		return err
	}
	report, err := pipeline.Plan(e.ctx, p, srv, e.provisionOptions())
	if err != nil {
		return err
	}
	if err := e.emit(report); err != nil {
		return err
	}
	if e.c.Bool("detailed-exitcode") && report.HasChanges() {
		return ucli.Exit("", 2)
	}
	return nil
}

func runProvision(e *env) error {
	p, srv, err := e.projectServer()
	if err != nil {
		return err
	}
	cs, err := provision.ApplyWith(e.ctx, p, srv, e.log, e.provisionOptions())
	if err != nil {
		return err
	}
	return e.emit(cs)
}

func runAudit(e *env) error {
	p, srv, err := e.projectServer()
	if err != nil {
		return err
	}
	r, err := audit.Run(e.ctx, p, srv, e.log)
	if err != nil {
		return err
	}
	if err := e.emit(r); err != nil {
		return err
	}
	if !r.OK {
		return exitFindings()
	}
	return nil
}

type serviceURL struct {
	Service string `json:"service"`
	URL     string `json:"url"`
}

func (u serviceURL) Human() string { return u.URL + "\n" }

// runURL prints the service's URL: the secrets file's, or, when
// SPLITSCHEMA_PASSWORD_<SERVICE> is set, one built from it and the server.
func runURL(e *env) error {
	p, err := e.project()
	if err != nil {
		return err
	}
	name := e.c.String("service")
	if name == "" {
		return usageErr(e.c, errors.New("url: --service is required"))
	}
	if p.Service(name) == nil {
		var names []string
		for _, s := range p.Services { // sorted by name
			names = append(names, s.Name)
		}
		return usageErr(e.c, fmt.Errorf("--service %s: no such service (services: %s)", name, strings.Join(names, ", ")))
	}
	pw, src, err := secrets.Lookup(p.Dir, name)
	if err != nil {
		return err
	}
	if src == secrets.FromFile {
		u, err := secrets.URL(p.Dir, name)
		if err != nil {
			return err
		}
		return e.emit(serviceURL{Service: name, URL: u})
	}
	srv, err := e.server(p)
	if err != nil {
		return err
	}
	return e.emit(serviceURL{Service: name, URL: srv.RoleURL(p.AppRole(name), pw)})
}
