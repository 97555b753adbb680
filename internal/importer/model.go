// Package importer reads an existing multi-schema database and writes a
// splitschema project for it: one service per schema (or several schemas
// per service, as asked), a link per
// cross-schema foreign key (a soft link where a link would close a cycle), a
// read per view column of another schema, a use per type or function of a
// shared schema, the extensions, and a baseline migration per service that
// recreates its schema (pg_dump --schema-only, stripped of ownership and
// grants). What does not fit is reported, one line each, with the file to
// edit.
package importer

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Note is one thing that does not fit the model, with the file to edit.
type Note struct {
	File    string `json:"file"`
	Message string `json:"message"`
}

func (n Note) String() string { return n.File + ": " + n.Message }

// Result is what Run wrote.
type Result struct {
	Dir        string     `json:"dir"`
	Database   string     `json:"database"`
	Services   []*service `json:"services"`
	Extensions []string   `json:"extensions"`
	Notes      []Note     `json:"notes"`
}

// Human renders the result for people.
func (r *Result) Human() string {
	var b strings.Builder
	fmt.Fprintf(&b, "imported database %s into %s: %d services\n", r.Database, r.Dir, len(r.Services))
	for _, s := range r.Services {
		fmt.Fprintf(&b, "  %s", s.Name)
		if len(s.Schemas) > 1 {
			fmt.Fprintf(&b, " (schemas %s)", strings.Join(s.Schemas, ", "))
		}
		if s.Shared {
			b.WriteString(" (shared)")
		}
		fmt.Fprintf(&b, ": %d links, %d soft links, %d reads, %d uses\n", len(s.Links), len(s.SoftLinks), len(s.Reads), len(s.Uses))
	}
	if len(r.Notes) == 0 {
		b.WriteString("everything fits; see IMPORT.md to mark the baselines applied on the source database\n")
		return b.String()
	}
	fmt.Fprintf(&b, "%d things do not fit as they are:\n", len(r.Notes))
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "  %s\n", n)
	}
	return b.String()
}

// service is one imported schema.
type service struct {
	Name string `json:"name"`
	// Schemas are its schemas, Name first.
	Schemas   []string `json:"schemas"`
	Shared    bool     `json:"shared,omitempty"`
	Uses      []string `json:"uses,omitempty"`
	Links     []string `json:"links,omitempty"`
	SoftLinks []string `json:"soft_links,omitempty"`
	Reads     []string `json:"reads,omitempty"`
	// softFKs are the foreign keys made soft links, left out of the baseline.
	softFKs []string
	reads   map[string][]string // schema.table -> columns
	uses    map[string]bool
	deps    map[string]bool // services it must come after
}

func (s *service) addRead(table, column string) {
	if !slices.Contains(s.reads[table], column) {
		s.reads[table] = append(s.reads[table], column)
	}
}

// finish renders the reads and uses in a stable order.
func (s *service) finish() {
	for _, t := range slices.Sorted(maps.Keys(s.reads)) {
		cols := slices.Clone(s.reads[t])
		slices.Sort(cols)
		s.Reads = append(s.Reads, t+"("+strings.Join(cols, ", ")+")")
	}
	s.Uses = slices.Sorted(maps.Keys(s.uses))
}

// reaches reports whether from depends on to, directly or not.
func reaches(services map[string]*service, from, to string) bool {
	seen := map[string]bool{}
	stack := []string{from}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if cur == to {
			return true
		}
		if seen[cur] || services[cur] == nil {
			continue
		}
		seen[cur] = true
		for d := range services[cur].deps {
			stack = append(stack, d)
		}
	}
	return false
}
