package importer

import (
	"fmt"
	"strings"

	"github.com/splitschema/splitschema/internal/pgsql"
)

// guide is IMPORT.md: what was imported, what does not fit, and how to
// adopt the source database itself.
func (im *importer) guide() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Imported from database %s\n\n", im.srv.Database)
	b.WriteString("`splitschema import` wrote one service per schema (`schemas/`), a link per cross-schema foreign key,\n")
	b.WriteString("a soft link where a link would close a cycle, a read per column a view reads in another schema, a use\n")
	b.WriteString("per type or function of a shared schema, and a baseline migration per service\n")
	b.WriteString("(`migrations/<service>/" + baselineName + "`, pg_dump --schema-only without owners and grants).\n\n")
	b.WriteString("A new, empty database gets the same schemas with `splitschema apply`.\n\n")
	if len(im.res.Notes) > 0 {
		b.WriteString("## What does not fit as it is\n\n")
		for _, n := range im.res.Notes {
			fmt.Fprintf(&b, "- `%s`: %s\n", n.File, n.Message)
		}
		b.WriteString("\n")
	}
	b.WriteString("## Adopting the source database itself\n\n")
	b.WriteString("The source database already holds what the baselines create. To manage it with this project, as a\n")
	b.WriteString("superuser and with the applications stopped:\n\n")
	b.WriteString("1. `splitschema provision --dir .` refuses schemas owned by another role; give each schema and its\n")
	b.WriteString("   objects to the service's owner role first (created by `splitschema provision` on an empty\n")
	b.WriteString("   database, or by hand as `<service>_owner NOLOGIN`), e.g. for each service S:\n\n")
	b.WriteString("   ```sql\n")
	for _, s := range im.res.Services {
		for _, schema := range s.Schemas {
			fmt.Fprintf(&b, "   ALTER SCHEMA %s OWNER TO %s;  -- and ALTER TABLE/VIEW/SEQUENCE/FUNCTION/TYPE … OWNER TO the same role\n", pgsql.Ident(schema), pgsql.Ident(s.Name+"_owner"))
		}
	}
	b.WriteString("   ```\n\n")
	b.WriteString("2. Run `splitschema provision --dir .`: it creates the roles, grants and the guard.\n")
	b.WriteString("3. Mark each baseline applied, as the service's owner, so that `migrate up` starts after it:\n\n")
	b.WriteString("   ```sql\n")
	for _, s := range im.res.Services {
		fmt.Fprintf(&b, "   SET ROLE %s;\n", pgsql.Ident(s.Name+"_owner"))
		fmt.Fprintf(&b, "   CREATE TABLE %s.goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp DEFAULT now());\n", pgsql.Ident(s.Name))
		fmt.Fprintf(&b, "   INSERT INTO %s.goose_db_version (version_id, is_applied) VALUES (0, true), (1, true);\n", pgsql.Ident(s.Name))
		b.WriteString("   RESET ROLE;\n")
	}
	b.WriteString("   ```\n\n")
	b.WriteString("4. `splitschema apply --dir .` then changes nothing, and `splitschema audit` checks the isolation.\n\n")
	b.WriteString("These steps are written for you to review; the import does not run them.\n")
	return b.String()
}
