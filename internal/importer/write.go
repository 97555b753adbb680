package importer

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/localpg"
	"github.com/splitschema/splitschema/internal/manifest"
)

// write writes the project: settings, one service file and one baseline per
// service, and IMPORT.md. The baselines are dumped first, so that a failing
// pg_dump leaves no half-written project.
func (im *importer) write(ctx context.Context) error {
	baselines := map[string]string{}
	for _, svc := range im.res.Services {
		sql, err := im.baseline(ctx, svc)
		if err != nil {
			return err
		}
		baselines[svc.Name] = sql
	}
	files := map[string]string{manifest.SettingsFile: im.settings(), "IMPORT.md": im.guide()}
	for _, svc := range im.res.Services {
		files[serviceFile(svc.Name)] = svc.yaml()
		files[baselineFile(svc.Name)] = baselines[svc.Name]
	}
	for rel, content := range files {
		path := filepath.Join(im.o.Dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("import: %w", err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return fmt.Errorf("import: %w", err)
		}
	}
	return nil
}

func (im *importer) settings() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Imported by `splitschema import` from database %s (see IMPORT.md).\n", im.srv.Database)
	fmt.Fprintf(&b, "database: %s\n", im.srv.Database)
	if len(im.res.Extensions) > 0 {
		fmt.Fprintf(&b, "extensions: [%s]\n", strings.Join(im.res.Extensions, ", "))
	}
	return b.String()
}

func (s *service) yaml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\n", s.Name)
	if len(s.Schemas) > 1 {
		fmt.Fprintf(&b, "schemas: [%s]\n", strings.Join(s.Schemas, ", "))
	}
	if s.Shared {
		b.WriteString("kind: shared\n")
	}
	list := func(key string, items []string, comment string) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s: # %s\n", key, comment)
		for _, it := range items {
			fmt.Fprintf(&b, "  - %q\n", it)
		}
	}
	list("uses", s.Uses, "types and functions of these shared services")
	list("links", s.Links, "one per cross-schema foreign key")
	list("soft_links", s.SoftLinks, "foreign keys that closed a cycle: no constraint, verify checks them")
	list("reads", s.Reads, "columns its views read")
	return b.String()
}

// baseline dumps svc's schemas (no owner, no grants, not the schemas
// themselves nor extensions, nor the foreign keys made soft links) as a
// goose migration.
func (im *importer) baseline(ctx context.Context, svc *service) (string, error) {
	dump, err := im.dumpSchemas(ctx, svc.Schemas)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	word := "schema"
	if len(svc.Schemas) > 1 {
		word = "schemas"
	}
	fmt.Fprintf(&b, "-- Baseline of %s %s, from pg_dump --schema-only of database %s by `splitschema import`.\n", word, strings.Join(svc.Schemas, ", "), im.srv.Database)
	b.WriteString("-- It recreates the schema as it was; see IMPORT.md to mark it applied on that database.\n")
	b.WriteString("-- +goose Up\n")
	// One goose statement per pg_dump section: a function body may hold
	// semicolons, and lint and apply read each CREATE TABLE on its own.
	for _, section := range stripDump(dump, svc.softFKs) {
		b.WriteString("-- +goose StatementBegin\n" + section + "\n-- +goose StatementEnd\n\n")
	}
	b.WriteString("-- +goose Down\n-- +goose StatementBegin\n")
	fmt.Fprintf(&b, "DO $$ BEGIN RAISE EXCEPTION 'the baseline of %s cannot be rolled back: restore a backup instead'; END $$;\n", svc.Name)
	b.WriteString("-- +goose StatementEnd\n")
	return b.String(), nil
}

// dumpSchemas runs pg_dump --schema-only of schemas, in one dump so that
// objects of one depending on the other come in order; the first schema's
// goose version table is left out.
func (im *importer) dumpSchemas(ctx context.Context, schemas []string) (string, error) {
	pgDump := im.o.PgDump
	if pgDump == "" {
		pgDump = "pg_dump"
		if b, err := localpg.FindBinaries(); err == nil {
			pgDump = filepath.Join(b.Dir, "pg_dump")
		}
	}
	args := []string{"--schema-only", "--no-owner", "--no-privileges", "--no-publications", "--no-subscriptions",
		"--exclude-table", quotePattern(schemas[0]) + ".goose_db_version"}
	for _, s := range schemas {
		args = append(args, "--schema", quotePattern(s))
	}
	cmd := exec.CommandContext(ctx, pgDump, args...)
	cmd.Env = im.srv.ToolEnv(im.srv.Database)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("import: pg_dump of schema %s: %w: %s", strings.Join(schemas, ", "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// quotePattern quotes a name for pg_dump's pattern syntax (a quoted name
// matches itself only).
func quotePattern(name string) string { return pgx.Identifier{name}.Sanitize() }

var (
	sectionHead = regexp.MustCompile(`(?m)^--\n-- (?:Data for )?Name: ([^;]*); Type: ([^;]*); Schema: ([^;]*);.*\n--\n`)
	// dropSettings are the preamble's settings a migration keeps its own of.
	dropSettings = regexp.MustCompile(`(?m)^SET (?:statement_timeout|lock_timeout|idle_in_transaction_session_timeout|transaction_timeout) = .*\n`)
	// metaCommands are psql's \restrict and \unrestrict, which newer pg_dump
	// writes and no server runs.
	metaCommands = regexp.MustCompile(`(?m)^\\(?:un)?restrict .*\n?`)
)

// stripDump cuts a pg_dump script into its sections (the settings first),
// without what provisioning does (the schema, the extensions) and the
// foreign keys named in soft.
func stripDump(dump string, soft []string) []string {
	dump = dropSettings.ReplaceAllString(dump, "")
	dump = metaCommands.ReplaceAllString(dump, "")
	locs := sectionHead.FindAllStringSubmatchIndex(dump, -1)
	end := len(dump)
	if len(locs) > 0 {
		end = locs[0][0]
	}
	out := []string{strings.TrimSpace(dump[:end])}
	for i, l := range locs {
		next := len(dump)
		if i+1 < len(locs) {
			next = locs[i+1][0]
		}
		name, typ := dump[l[2]:l[3]], dump[l[4]:l[5]]
		section := dump[l[0]:next]
		switch {
		case typ == "SCHEMA", typ == "EXTENSION", typ == "COMMENT" && strings.HasPrefix(name, "EXTENSION "):
			continue
		case typ == "FK CONSTRAINT" && isSoft(name, soft):
			continue
		}
		section = strings.TrimSpace(section)
		section = strings.TrimSpace(strings.TrimSuffix(section, "--\n-- PostgreSQL database dump complete\n--"))
		out = append(out, section)
	}
	return out
}

// isSoft reports whether a dump section's name ("table constraint") is
// one of the foreign keys made soft links.
func isSoft(name string, soft []string) bool {
	for _, s := range soft {
		if strings.HasSuffix(name, " "+s) {
			return true
		}
	}
	return false
}
