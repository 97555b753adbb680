package provision

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ident quotes one identifier, or a dotted path of them, for SQL.
func ident(parts ...string) string { return pgx.Identifier(parts).Sanitize() }

// literal renders s as an SQL string literal, for display only: statements
// that run pass values as parameters.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}
