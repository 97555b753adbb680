package scaffold

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/jinzhu/inflection"
	"go.yaml.in/yaml/v3"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/migrate"
	"github.com/splitschema/splitschema/internal/migrate/sqlscan"
)

// ServiceOptions describe the service AddService adds.
type ServiceOptions struct {
	Name string
	// Schema defaults to Name.
	Schema      string
	Description string
	// Links are written service.table(col, ...).
	Links []string
	// DeferLinks accepts a link to a table or column that the linked
	// service's migrations do not create (yet); without it such a link,
	// a typo most of the time, is refused.
	DeferLinks bool
}

// AddService adds a service to the project in dir: schemas/NAME.yaml,
// migrations/NAME/00001_init.sql (a first table, with a foreign key column
// per link), queries/NAME/NAME.sql (starter queries, so that sqlc
// generates a package), a package in sqlc.yaml and a CREATE SCHEMA line in
// migrations/sqlc-schemas.sql. The name, the links and the whole project
// with the new service are validated first (a link to an unknown service,
// a cycle...), and nothing is written unless all is well; an existing file
// is an *ExistsError.
func AddService(dir string, o ServiceOptions) (*Result, error) {
	settingsPath := filepath.Join(dir, manifest.SettingsFile)
	settingsData, err := os.ReadFile(settingsPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: no project here; run `splitschema init` first, or pass --dir", settingsPath)
	}
	if err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	settings, err := manifest.ParseSettings(manifest.SettingsFile, settingsData)
	if err != nil {
		return nil, err
	}
	n := settings.Naming
	maxLen := manifest.MaxIdentifierLen - len(n.Prefix) - max(len(n.OwnerSuffix), len(n.AppSuffix))
	if err := manifest.CheckIdentifier("service name", o.Name, maxLen); err != nil {
		return nil, fmt.Errorf("%w (its roles %s and %s must fit in %d bytes)", err, n.OwnerRole("<name>"), n.AppRole("<name>"), manifest.MaxIdentifierLen)
	}
	if o.Schema == "" {
		o.Schema = o.Name
	}
	if err := manifest.CheckIdentifier("schema", o.Schema, manifest.MaxIdentifierLen); err != nil {
		return nil, err
	}
	var links []manifest.Link
	for _, raw := range o.Links {
		l, err := manifest.ParseLink(raw)
		if err != nil {
			return nil, err
		}
		links = append(links, l)
	}
	if o.Description == "" {
		o.Description = "What " + o.Name + " does, in a sentence."
	}
	desc, err := yaml.Marshal(o.Description)
	if err != nil {
		return nil, fmt.Errorf("description: %w", err)
	}
	linkStrings := make([]string, len(links))
	for i, l := range links {
		linkStrings[i] = l.String()
	}
	schemaRel := path.Join(manifest.SchemasDir, o.Name+".yaml")
	schemaYAML := render("schema.yaml.tmpl", map[string]any{
		"Name": o.Name, "Schema": o.Schema, "Description": strings.TrimSpace(string(desc)), "Links": linkStrings,
	})

	initRel := path.Join(migrate.ServiceDir(o.Name), "00001_init.sql")
	queriesRel := path.Join("queries", o.Name, o.Name+".sql")
	pl := &plan{dir: dir}
	pl.create(schemaRel, schemaYAML)
	if err := pl.check(); err != nil {
		return nil, err
	}
	if err := noMigrationsYet(dir, o.Name); err != nil {
		return nil, err
	}

	// Validate the project as it will be, from a copy of its files.
	p, err := loadWith(dir, settingsData, schemaRel, schemaYAML)
	if err != nil {
		return nil, err
	}
	svc := p.Service(o.Name)

	refs, fks, notes := foreignKeys(p, svc)
	if len(notes) > 0 && !o.DeferLinks {
		return nil, &manifest.Error{Problems: linkProblems(schemaRel, notes)}
	}
	table := o.Name
	model := camel(singular(o.Name))
	var refCols, refParams []string
	for _, r := range refs {
		refCols = append(refCols, r.Column)
		refParams = append(refParams, "@"+r.Column)
	}
	data := map[string]any{
		"Name": o.Name, "Schema": o.Schema, "Table": table, "Owner": p.OwnerRole(o.Name),
		"Refs": refs, "FKs": fks, "Model": model, "Package": goPackage(o.Name),
		"RenameKey":  singular(o.Schema + "_" + table),
		"RefColumns": strings.Join(refCols, ", "), "RefParams": strings.Join(refParams, ", "),
	}
	pl.create(initRel, render("init.sql.tmpl", data))
	pl.create(queriesRel, render("queries.sql.tmpl", data))

	// sqlc.yaml and the schema list it reads.
	sqlcPath := filepath.Join(dir, SqlcFile)
	sqlcData, err := os.ReadFile(sqlcPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		notes = append(notes, "no sqlc.yaml in the project: no sqlc package was added")
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", SqlcFile, err)
	default:
		updated, err := appendSqlcPackage(sqlcData, string(render("sqlc-package.yaml.tmpl", data)), o.Name)
		if err != nil {
			return nil, err
		}
		pl.replace(SqlcFile, updated)
		schemas, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(SqlcSchemasSQL)))
		line := "CREATE SCHEMA " + o.Schema + ";"
		switch {
		case errors.Is(err, fs.ErrNotExist):
			pl.create(SqlcSchemasSQL, append(render("sqlc-schemas.sql.tmpl", nil), []byte(line+"\n")...))
		case err != nil:
			return nil, fmt.Errorf("read %s: %w", SqlcSchemasSQL, err)
		case !hasSchemaLine(string(schemas), o.Schema):
			pl.replace(SqlcSchemasSQL, appendLines(schemas, line))
		}
	}
	files, err := pl.apply()
	if err != nil {
		return nil, err
	}
	cd := ""
	if filepath.Clean(dir) != "." {
		cd = " --dir " + dir
	}
	return &Result{
		Dir:   dir,
		Files: files,
		Notes: notes,
		Next: []string{
			"edit " + initRel + " (the first table); later changes go in new files: " + migrate.ServiceDir(o.Name) + "/00002_<what>.sql",
			"splitschema apply" + cd + "   (provisions " + o.Name + " and runs its migrations)",
			"go tool sqlc generate, or sqlc generate   (writes gen/" + o.Name + "/ from " + path.Dir(queriesRel) + "/)",
		},
	}, nil
}

// noMigrationsYet refuses a service whose migrations folder already holds
// SQL files: a new 00001_init.sql would clash with them.
func noMigrationsYet(dir, name string) error {
	entries, err := os.ReadDir(filepath.Join(dir, migrate.MigrationsDir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", migrate.ServiceDir(name), err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			return &ExistsError{Paths: []string{filepath.ToSlash(filepath.Join(dir, migrate.ServiceDir(name), e.Name()))}}
		}
	}
	return nil
}

// loadWith loads the project in dir as if the service file rel held data,
// without touching dir: the settings and service files are copied to a
// temporary folder. The returned project's Dir is dir.
func loadWith(dir string, settings []byte, rel string, data []byte) (*manifest.Project, error) {
	tmp, err := os.MkdirTemp("", "splitschema-service-add-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Mkdir(filepath.Join(tmp, manifest.SchemasDir), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, manifest.SettingsFile), settings, 0o644); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(filepath.Join(dir, manifest.SchemasDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", manifest.SchemasDir, err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, manifest.SchemasDir, e.Name()))
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(tmp, manifest.SchemasDir, e.Name()), b, 0o644); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, filepath.FromSlash(rel)), data, 0o644); err != nil {
		return nil, err
	}
	p, err := manifest.Load(tmp)
	if err != nil {
		return nil, err
	}
	p.Dir = dir
	return p, nil
}

// ref is a foreign key column of the new service's first table.
type ref struct {
	Column string
	Type   string
	// Inline is the REFERENCES clause of a one-column link, else empty.
	Inline string
}

// fk is a table-level foreign key, for links of several columns.
type fk struct {
	Columns string
	Target  string
}

// foreignKeys derives, from the service's links, the columns and foreign
// keys of its first table. Column types come from the CREATE TABLE of the
// linked service's migrations; when none is found the column is bigint
// and a note says so.
func foreignKeys(p *manifest.Project, svc *manifest.Service) ([]ref, []fk, []string) {
	var refs []ref
	var fks []fk
	var notes []string
	used := map[string]bool{"id": true, "created_at": true}
	for _, l := range svc.Links {
		target := p.Service(l.Service)
		types := tableColumns(p, target, l.Table)
		var cols []string
		for _, c := range l.Columns {
			name := l.Table + "_" + c
			if used[name] {
				name = l.Service + "_" + name
			}
			for i := 2; used[name]; i++ {
				name = fmt.Sprintf("%s_%s_%s_%d", l.Service, l.Table, c, i)
			}
			used[name] = true
			typ, ok := types[c]
			if !ok {
				typ = "bigint"
				if types == nil {
					notes = append(notes, fmt.Sprintf("link %s: the migrations of %s create no table %s (yet): column %s assumes bigint", l, l.Service, l.Table, name))
				} else {
					notes = append(notes, fmt.Sprintf("link %s: table %s.%s has no column %s in the migrations of %s: column %s assumes bigint", l, target.Schema, l.Table, c, l.Service, name))
				}
			}
			r := ref{Column: name, Type: typ}
			if len(l.Columns) == 1 {
				r.Inline = fmt.Sprintf("REFERENCES %s.%s (%s)", target.Schema, l.Table, c)
			}
			refs = append(refs, r)
			cols = append(cols, name)
		}
		if len(l.Columns) > 1 {
			fks = append(fks, fk{Columns: strings.Join(cols, ", "), Target: fmt.Sprintf("%s.%s (%s)", target.Schema, l.Table, strings.Join(l.Columns, ", "))})
		}
	}
	return refs, fks, notes
}

// linkProblems turns the notes on links to tables or columns no migration
// creates into problems of the new service file, with what to do.
func linkProblems(file string, notes []string) []manifest.Problem {
	var ps []manifest.Problem
	for _, n := range notes {
		ps = append(ps, manifest.Problem{File: file, Msg: strings.SplitN(n, ": column ", 2)[0] +
			"; check the link for a typo, or give --defer-links if a migration still to be written creates it (nothing was written)"})
	}
	return ps
}

// tableColumns returns the column types of schema.table as the service's
// migrations create it (a column added by ALTER TABLE typed bigint), or nil
// when they do not create it.
func tableColumns(p *manifest.Project, svc *manifest.Service, table string) map[string]string {
	files, err := migrate.LoadFiles(p, svc.Name)
	if err != nil {
		return nil
	}
	cols := migrate.TableColumns(svc, files, table)
	for c, typ := range cols {
		if typ == "" {
			cols[c] = "bigint"
		}
	}
	return cols
}

// hasSchemaLine reports whether the sqlc schema list creates schema.
func hasSchemaLine(text, schema string) bool {
	for line := range strings.SplitSeq(text, "\n") {
		toks := sqlscan.Tokens(line)
		if len(toks) >= 3 && toks[0].Is("create") && toks[1].Is("schema") {
			i := 2
			if len(toks) >= 6 && toks[2].Is("if") && toks[3].Is("not") && toks[4].Is("exists") {
				i = 5
			}
			if i < len(toks) && toks[i].IsName() && toks[i].Text == schema {
				return true
			}
		}
	}
	return false
}

// singular is the singular sqlc gives a table's model name: jinzhu's
// inflection with sqlc's own corrections (sqlc internal/inflection), so
// that the rename in sqlc.yaml names the model sqlc would make.
func singular(name string) string {
	switch strings.ToLower(name) {
	case "campus", "meta", "metadata":
		return name
	case "calories":
		return "calorie"
	case "waves":
		return "wave"
	}
	return inflection.Singular(name)
}

// camel turns a_b into AB-style Go names: order_line -> OrderLine.
func camel(s string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(s, "_") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	if b.Len() == 0 || b.String()[0] >= '0' && b.String()[0] <= '9' {
		return "X" + b.String()
	}
	return b.String()
}

var goKeywords = map[string]bool{
	"break": true, "case": true, "chan": true, "const": true, "continue": true, "default": true, "defer": true,
	"else": true, "fallthrough": true, "for": true, "func": true, "go": true, "goto": true, "if": true,
	"import": true, "interface": true, "map": true, "package": true, "range": true, "return": true,
	"select": true, "struct": true, "switch": true, "type": true, "var": true,
}

// goPackage is the Go package name of the service's sqlc package.
func goPackage(name string) string {
	pkg := strings.ReplaceAll(name, "_", "")
	switch {
	case pkg == "" || pkg[0] >= '0' && pkg[0] <= '9':
		return "db" + pkg
	case goKeywords[pkg]:
		return pkg + "db"
	}
	return pkg
}
