package manifest

import (
	"fmt"
	"regexp"
	"strings"
)

// MaxIdentifierLen is the longest identifier PostgreSQL keeps (NAMEDATALEN-1 bytes).
const MaxIdentifierLen = 63

var identPattern = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// reservedWords are SQL key words that PostgreSQL reserves and that would
// therefore need quoting everywhere; they make poor schema and table names.
var reservedWords = map[string]bool{
	"all": true, "analyse": true, "analyze": true, "and": true, "any": true, "array": true,
	"as": true, "asc": true, "asymmetric": true, "both": true, "case": true, "cast": true,
	"check": true, "collate": true, "column": true, "constraint": true, "create": true,
	"current_catalog": true, "current_date": true, "current_role": true, "current_time": true,
	"current_timestamp": true, "current_user": true, "default": true, "deferrable": true,
	"desc": true, "distinct": true, "do": true, "else": true, "end": true, "except": true,
	"false": true, "fetch": true, "for": true, "foreign": true, "from": true, "grant": true,
	"group": true, "having": true, "in": true, "initially": true, "intersect": true, "into": true,
	"lateral": true, "leading": true, "limit": true, "localtime": true, "localtimestamp": true,
	"not": true, "null": true, "offset": true, "on": true, "only": true, "or": true, "order": true,
	"placing": true, "primary": true, "references": true, "returning": true, "select": true,
	"session_user": true, "some": true, "symmetric": true, "system_user": true, "table": true,
	"then": true, "to": true, "trailing": true, "true": true, "union": true, "unique": true,
	"user": true, "using": true, "variadic": true, "when": true, "where": true, "window": true,
	"with": true,
}

// CheckIdentifier reports whether name is usable as a schema, table, column
// or role name: lower-case letters, digits and underscores, not starting
// with a digit, at most maxLen bytes, and not reserved by PostgreSQL.
// what names the kind of thing, for the error message.
func CheckIdentifier(what, name string, maxLen int) error {
	switch {
	case name == "":
		return fmt.Errorf("%s is empty", what)
	case len(name) > maxLen:
		return fmt.Errorf("%s %q is %d bytes long; at most %d are allowed", what, name, len(name), maxLen)
	case !identPattern.MatchString(name):
		return fmt.Errorf("%s %q is not a valid identifier: use lower-case letters, digits and _, not starting with a digit", what, name)
	case name == "public" || name == "information_schema" || name == "splitschema" || strings.HasPrefix(name, "pg_"):
		return fmt.Errorf("%s %q is reserved (public, information_schema, pg_* and splitschema, which holds the guard, are)", what, name)
	case reservedWords[name]:
		return fmt.Errorf("%s %q is an SQL reserved word; choose another name", what, name)
	}
	return nil
}
