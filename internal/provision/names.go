package provision

import (
	"cmp"
	"maps"
	"slices"

	"github.com/splitschema/splitschema/internal/pgsql"
)

// ident quotes one identifier, or a dotted path of them, for SQL.
func ident(parts ...string) string { return pgsql.Ident(parts...) }

// literal renders s as an SQL string literal (pgsql.Literal).
func literal(s string) string { return pgsql.Literal(s) }

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}
