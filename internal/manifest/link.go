package manifest

import (
	"fmt"
	"strings"
)

// Link is a set of columns of another service's table that a service
// references with a foreign key, written service.table(col, ...).
type Link struct {
	Service string   `json:"service"`
	Table   string   `json:"table"`
	Columns []string `json:"columns"`
	// Line is the line of the link in its service file, 0 when unknown.
	Line int `json:"-"`
}

// String renders the link in the form ParseLink reads.
func (l Link) String() string {
	return fmt.Sprintf("%s.%s(%s)", l.Service, l.Table, strings.Join(l.Columns, ", "))
}

// ParseLink reads a link written as service.table(col, ...).
func ParseLink(s string) (Link, error) {
	orig := s
	s = strings.TrimSpace(s)
	open := strings.IndexByte(s, '(')
	if open < 0 || !strings.HasSuffix(s, ")") {
		return Link{}, fmt.Errorf("link %q: want service.table(column, ...)", orig)
	}
	target, cols := s[:open], s[open+1:len(s)-1]
	svc, table, ok := strings.Cut(strings.TrimSpace(target), ".")
	if !ok {
		return Link{}, fmt.Errorf("link %q: want service.table(column, ...), the service is missing", orig)
	}
	if err := CheckIdentifier("service", svc, MaxIdentifierLen); err != nil {
		return Link{}, fmt.Errorf("link %q: %w", orig, err)
	}
	if err := CheckIdentifier("table", table, MaxIdentifierLen); err != nil {
		return Link{}, fmt.Errorf("link %q: %w", orig, err)
	}
	l := Link{Service: svc, Table: table}
	seen := map[string]bool{}
	for c := range strings.SplitSeq(cols, ",") {
		c = strings.TrimSpace(c)
		if err := CheckIdentifier("column", c, MaxIdentifierLen); err != nil {
			return Link{}, fmt.Errorf("link %q: %w", orig, err)
		}
		if seen[c] {
			return Link{}, fmt.Errorf("link %q: column %q listed twice", orig, c)
		}
		seen[c] = true
		l.Columns = append(l.Columns, c)
	}
	return l, nil
}
