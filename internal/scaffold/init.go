package scaffold

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/splitschema/splitschema/internal/manifest"
)

// InitOptions tune Init.
type InitOptions struct {
	// Database is the project database; empty derives it from the folder's
	// name (lower-cased, other characters turned into _), else "app".
	Database string
	// Prefix starts every role name of the project (naming.prefix); empty
	// keeps the names <service>_owner and <service>_app.
	Prefix string
	// ToolVersion is the splitschema version the CI workflow installs
	// (a module version such as v1.2.3); empty installs @latest.
	ToolVersion string
}

// workflowData fills workflow.yml.tmpl.
type workflowData struct {
	Dir, Version, SqlcVersion string
}

// Standard layout paths written by Init.
const (
	SqlcFile       = manifest.SqlcFile
	SqlcSchemasSQL = "migrations/sqlc-schemas.sql"
	GitignoreFile  = ".gitignore"
	WorkflowFile   = ".github/workflows/splitschema.yml"
)

// SqlcVersion is the sqlc the scaffolded project is told to use: the one
// this repository's go.mod pins as a tool.
const SqlcVersion = "v1.31.1"

// gitignoreLines are the lines Init makes sure .gitignore holds.
var gitignoreLines = []string{".splitschema/", "/backups/"}

// Init writes a new project in dir, which is created when missing: the
// settings file, the schemas/, migrations/ and queries/ folders, sqlc.yaml,
// migrations/sqlc-schemas.sql, a GitHub Actions workflow that runs
// `splitschema lint --github`, and .gitignore. An existing .gitignore gets
// the missing lines appended; any other existing file is an *ExistsError
// and nothing is written.
func Init(dir string, o InitOptions) (*Result, error) {
	db := o.Database
	if db == "" {
		db = databaseFromDir(dir)
	}
	if err := manifest.CheckIdentifier("database", db, manifest.MaxIdentifierLen); err != nil {
		return nil, fmt.Errorf("--database: %w", err)
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("%s is a file, not a folder", dir)
	}
	settings := render("splitschema.yaml.tmpl", struct{ Database, Prefix string }{db, o.Prefix})
	if _, err := manifest.ParseSettings(manifest.SettingsFile, settings); err != nil {
		return nil, fmt.Errorf("--prefix %q: %w", o.Prefix, err)
	}
	pl := &plan{dir: dir}
	pl.create(manifest.SettingsFile, settings)
	pl.create(manifest.SchemasDir+"/.gitkeep", nil)
	pl.create("queries/.gitkeep", nil)
	pl.create(SqlcSchemasSQL, render("sqlc-schemas.sql.tmpl", nil))
	pl.create(SqlcFile, render("sqlc.yaml.tmpl", nil))
	pl.create(WorkflowFile, render("workflow.yml.tmpl", workflowData{Dir: ".", Version: cmp.Or(o.ToolVersion, "latest"), SqlcVersion: SqlcVersion}))

	gitignore := filepath.Join(dir, GitignoreFile)
	old, err := os.ReadFile(gitignore)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		pl.create(GitignoreFile, render("gitignore.tmpl", nil))
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", gitignore, err)
	default:
		if add := missingLines(string(old), gitignoreLines); len(add) > 0 {
			pl.replace(GitignoreFile, appendLines(old, append([]string{"# splitschema"}, add...)...))
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
		Next: []string{
			"splitschema service add NAME" + cd + " [--link service.table(column)]...   (once per service)",
			"splitschema apply" + cd + "   (provisions and migrates, on the embedded cluster or --database-url)",
			"go get -tool github.com/sqlc-dev/sqlc/cmd/sqlc@" + SqlcVersion + "   (once, in your Go module; or install sqlc), then go tool sqlc generate after each service add or query change   (writes gen/<service>/)",
		},
	}, nil
}

var notIdentChars = regexp.MustCompile(`[^a-z0-9_]+`)

// databaseFromDir derives a database name from the project folder's name.
func databaseFromDir(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "app"
	}
	name := strings.Trim(notIdentChars.ReplaceAllString(strings.ToLower(filepath.Base(abs)), "_"), "_")
	if name != "" && name[0] >= '0' && name[0] <= '9' {
		name = "db_" + name
	}
	if len(name) > manifest.MaxIdentifierLen {
		name = strings.TrimRight(name[:manifest.MaxIdentifierLen], "_")
	}
	if manifest.CheckIdentifier("database", name, manifest.MaxIdentifierLen) != nil {
		return "app"
	}
	return name
}

// appendLines returns text with lines appended, one a line, after a
// newline that ends its last line when it has none.
func appendLines(text []byte, lines ...string) []byte {
	out := slices.Clone(text)
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	for _, l := range lines {
		out = append(append(out, l...), '\n')
	}
	return out
}

// missingLines returns the lines of want that text does not hold.
func missingLines(text string, want []string) []string {
	have := map[string]bool{}
	for l := range strings.SplitSeq(text, "\n") {
		have[strings.TrimSpace(l)] = true
	}
	var out []string
	for _, w := range want {
		if !have[w] && !have[strings.TrimPrefix(w, "/")] && !have[strings.TrimSuffix(w, "/")] {
			out = append(out, w)
		}
	}
	return out
}
