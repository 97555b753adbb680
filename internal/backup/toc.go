package backup

import (
	"bufio"
	"strconv"
	"strings"
)

// TOCEntry is one entry of `pg_restore --list`:
// "dumpId; tableoid oid DESC NAMESPACE TAG OWNER", where DESC may hold
// spaces and NAMESPACE is "-" for an object outside any schema.
type TOCEntry struct {
	ID        int
	Line      string
	Desc      string
	Namespace string
	// Rest is the tag and the owner.
	Rest string
}

// Tag is the entry's tag: Rest without its owner (role names hold no
// space).
func (e TOCEntry) Tag() string {
	if i := strings.LastIndexByte(e.Rest, ' '); i >= 0 {
		return e.Rest[:i]
	}
	return e.Rest
}

// tocDescs are the entry kinds pg_dump writes, longest first where one
// starts another.
var tocDescs = []string{
	"MATERIALIZED VIEW DATA", "MATERIALIZED VIEW", "TABLE DATA", "TABLE ATTACH", "TABLE",
	"SEQUENCE OWNED BY", "SEQUENCE SET", "SEQUENCE", "FK CONSTRAINT", "CHECK CONSTRAINT", "CONSTRAINT",
	"DEFAULT ACL", "DEFAULT", "INDEX ATTACH", "INDEX", "EVENT TRIGGER", "TRIGGER",
	"TEXT SEARCH CONFIGURATION", "TEXT SEARCH DICTIONARY", "TEXT SEARCH PARSER", "TEXT SEARCH TEMPLATE",
	"FOREIGN DATA WRAPPER", "FOREIGN SERVER", "FOREIGN TABLE", "USER MAPPING",
	"OPERATOR CLASS", "OPERATOR FAMILY", "OPERATOR", "ACCESS METHOD", "LARGE OBJECT", "BLOBS", "BLOB",
	"PUBLICATION TABLES IN SCHEMA", "PUBLICATION TABLE", "PUBLICATION", "SUBSCRIPTION TABLE", "SUBSCRIPTION",
	"PROCEDURAL LANGUAGE", "ROW SECURITY", "STATISTICS DATA", "STATISTICS", "SECURITY LABEL",
	"DATABASE PROPERTIES", "DATABASE", "ENCODING", "STDSTRINGS", "SEARCHPATH",
	"SCHEMA", "EXTENSION", "COMMENT", "ACL", "TYPE", "DOMAIN", "FUNCTION", "PROCEDURE", "AGGREGATE",
	"COLLATION", "CONVERSION", "CAST", "TRANSFORM", "POLICY", "RULE", "VIEW", "SERVER", "SHELL TYPE",
}

// ParseTOC returns the entries of a `pg_restore --list` output, but
// comments, blank lines and entries of a kind it does not know.
func ParseTOC(toc string) []TOCEntry {
	var out []TOCEntry
	sc := bufio.NewScanner(strings.NewReader(toc))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if e, ok := parseTOCLine(sc.Text()); ok {
			out = append(out, e)
		}
	}
	return out
}

func parseTOCLine(line string) (e TOCEntry, ok bool) {
	if strings.HasPrefix(line, ";") || strings.TrimSpace(line) == "" {
		return e, false
	}
	id, rest, found := strings.Cut(line, "; ")
	if !found {
		return e, false
	}
	n, err := strconv.Atoi(id)
	if err != nil {
		return e, false
	}
	// Skip the two numbers: the catalog's table oid and the object's oid.
	f := strings.SplitN(rest, " ", 3)
	if len(f) < 3 {
		return e, false
	}
	rest = f[2]
	for _, d := range tocDescs {
		if after, found := strings.CutPrefix(rest, d+" "); found {
			ns, tail, _ := strings.Cut(after, " ")
			return TOCEntry{ID: n, Line: line, Desc: d, Namespace: ns, Rest: tail}, true
		}
	}
	return e, false
}
