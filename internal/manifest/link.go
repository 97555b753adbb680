package manifest

import (
	"fmt"
	"strings"
)

// Link is a set of columns of another service's table that a service
// references with a foreign key, written service.table(col, ...). The same
// form names the columns of a declared read and the target of a soft link.
type Link struct {
	// Service is the service the link points to. When the link was written
	// with one of that service's other schemas (schema.table), Load sets
	// Service to the service's name and keeps the written name in Ref.
	Service string   `json:"service"`
	Table   string   `json:"table"`
	Columns []string `json:"columns"`
	// Schema is the schema of Table, set by Load: the target service's
	// primary schema, or the schema the link was written with.
	Schema string `json:"schema,omitempty"`
	// Ref is the name before the dot as written, when it is not Service.
	Ref string `json:"-"`
	// Line is the line of the link in its service file, 0 when unknown.
	Line int `json:"-"`
}

// String renders the link in the form ParseLink reads, as it was written.
func (l Link) String() string {
	return fmt.Sprintf("%s.%s(%s)", l.written(), l.Table, strings.Join(l.Columns, ", "))
}

func (l Link) written() string {
	if l.Ref != "" {
		return l.Ref
	}
	return l.Service
}

// Qualified is the target table as schema.table (Load sets Schema).
func (l Link) Qualified() string { return l.Schema + "." + l.Table }

// ParseLink reads a link written as service.table(col, ...).
func ParseLink(s string) (Link, error) {
	orig := s
	prefix, table, cols, err := parseColumnsRef(s, "service.table(column, ...)")
	if err != nil {
		return Link{}, fmt.Errorf("link %q: %w", orig, err)
	}
	if prefix == "" {
		return Link{}, fmt.Errorf("link %q: want service.table(column, ...), the service is missing", orig)
	}
	if err := CheckIdentifier("service", prefix, MaxIdentifierLen); err != nil {
		return Link{}, fmt.Errorf("link %q: %w", orig, err)
	}
	return Link{Service: prefix, Table: table, Columns: cols}, nil
}

// parseColumnsRef reads [prefix.]table(col, ...), checking the table and
// the columns (not repeated); want describes the form for errors.
func parseColumnsRef(s, want string) (prefix, table string, cols []string, err error) {
	s = strings.TrimSpace(s)
	open := strings.IndexByte(s, '(')
	if open < 0 || !strings.HasSuffix(s, ")") {
		return "", "", nil, fmt.Errorf("want %s", want)
	}
	target, list := strings.TrimSpace(s[:open]), s[open+1:len(s)-1]
	if p, t, ok := strings.Cut(target, "."); ok {
		prefix, table = p, t
	} else {
		table = target
	}
	if err := CheckIdentifier("table", table, MaxIdentifierLen); err != nil {
		return "", "", nil, err
	}
	seen := map[string]bool{}
	for c := range strings.SplitSeq(list, ",") {
		c = strings.TrimSpace(c)
		if err := CheckIdentifier("column", c, MaxIdentifierLen); err != nil {
			return "", "", nil, err
		}
		if seen[c] {
			return "", "", nil, fmt.Errorf("column %q listed twice", c)
		}
		seen[c] = true
		cols = append(cols, c)
	}
	return prefix, table, cols, nil
}

// Read is a declared read: SELECT on columns of another service's table or
// view, for the reading service's owner (so its views compile) and, when App
// is set, for its application role too.
type Read struct {
	Link
	App bool `json:"app,omitempty"`
}

// SoftLink is a reference to another service's columns that no foreign key
// enforces (it would close a cycle, or Postgres cannot enforce it), but that
// verify checks like any link: From are the referencing columns, in the
// declaring service's own schema (or one of its schemas), To the referenced.
type SoftLink struct {
	// FromSchema is the schema of FromTable, set by Load when not written.
	FromSchema  string   `json:"from_schema"`
	FromTable   string   `json:"from_table"`
	FromColumns []string `json:"from_columns"`
	To          Link     `json:"to"`
	// Line is the line of the soft link in its service file.
	Line int `json:"-"`
	// fromWritten is whether the schema of From was written.
	fromWritten bool
}

// String renders the soft link in the form ParseSoftLink reads.
func (s SoftLink) String() string {
	from := s.FromTable
	if s.fromWritten {
		from = s.FromSchema + "." + from
	}
	return fmt.Sprintf("%s(%s) -> %s", from, strings.Join(s.FromColumns, ", "), s.To)
}

// ParseSoftLink reads a soft link written as
// [schema.]table(col, ...) -> service.table(col, ...).
func ParseSoftLink(s string) (SoftLink, error) {
	orig := s
	from, to, ok := strings.Cut(s, "->")
	if !ok {
		return SoftLink{}, fmt.Errorf("soft link %q: want table(column, ...) -> service.table(column, ...)", orig)
	}
	schema, table, cols, err := parseColumnsRef(from, "table(column, ...) -> service.table(column, ...)")
	if err != nil {
		return SoftLink{}, fmt.Errorf("soft link %q: %w", orig, err)
	}
	if schema != "" {
		if err := CheckIdentifier("schema", schema, MaxIdentifierLen); err != nil {
			return SoftLink{}, fmt.Errorf("soft link %q: %w", orig, err)
		}
	}
	l, err := ParseLink(to)
	if err != nil {
		return SoftLink{}, fmt.Errorf("soft link %q: %w", orig, err)
	}
	if len(cols) != len(l.Columns) {
		return SoftLink{}, fmt.Errorf("soft link %q: %d referencing columns for %d referenced ones; list as many on each side, in the same order", orig, len(cols), len(l.Columns))
	}
	return SoftLink{FromSchema: schema, FromTable: table, FromColumns: cols, To: l, fromWritten: schema != ""}, nil
}
