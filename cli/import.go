package cli

import (
	"errors"
	"fmt"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/splitschema/splitschema/internal/importer"
	"github.com/splitschema/splitschema/internal/target"
)

func importCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "import",
		Usage: "write a project for an existing multi-schema database: one service per schema (or as --into maps them)",
		Description: "Reads the database --from names and writes into --dir (which must hold no project yet):\n" +
			"splitschema.yaml with its extensions, one service per schema with a link per cross-schema foreign\n" +
			"key (a soft link where a link would close a cycle), a read per column a view reads in another\n" +
			"schema, a use per type or function of a shared schema, and a baseline migration per service\n" +
			"(pg_dump --schema-only, without owners and grants). What does not fit is listed, one line each,\n" +
			"with the file to edit; IMPORT.md says how to adopt the source database itself. Exit 1 when\n" +
			"something does not fit.",
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "from", Usage: "`URL` of the database to import (read only)", Required: true},
			&ucli.StringFlag{Name: "schemas", Usage: "import only these `SCHEMAS`, comma-separated"},
			&ucli.StringSliceFlag{Name: "into", Usage: "put schema S into the service of schema T (a service of several schemas), as `S=T`; repeat or comma-separate"},
		},
		Action: action(runImport),
	}
}

func runImport(e *env) error {
	if e.c.NArg() > 0 {
		return usageErr(e.c, fmt.Errorf("import takes no arguments, got %q", e.c.Args().Slice()))
	}
	srv, err := target.FromURL(e.c.String("from"), "")
	if err != nil {
		return err
	}
	if srv.Database == "" {
		return usageErr(e.c, errors.New("--from must name the database to import"))
	}
	var schemas []string
	for _, s := range strings.Split(e.c.String("schemas"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			schemas = append(schemas, s)
		}
	}
	into := map[string]string{}
	for _, pair := range e.c.StringSlice("into") {
		s, t, ok := strings.Cut(pair, "=")
		s, t = strings.TrimSpace(s), strings.TrimSpace(t)
		if !ok || s == "" || t == "" {
			return usageErr(e.c, fmt.Errorf("--into %q: write SCHEMA=SERVICE, e.g. --into pe=person", pair))
		}
		if prev, twice := into[s]; twice && prev != t {
			return usageErr(e.c, fmt.Errorf("--into puts schema %s into both %s and %s", s, prev, t))
		}
		into[s] = t
	}
	res, err := importer.Run(e.ctx, srv, importer.Options{Dir: e.dir, Schemas: schemas, Into: into, Log: e.log})
	if err != nil {
		return err
	}
	if err := e.emit(res); err != nil {
		return err
	}
	if len(res.Notes) > 0 {
		return exitFindings()
	}
	return nil
}
