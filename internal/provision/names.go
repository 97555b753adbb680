package provision

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/catalog"
)

// ident quotes one identifier, or a dotted path of them, for SQL.
func ident(parts ...string) string { return pgx.Identifier(parts).Sanitize() }

// literal renders s as an SQL string literal, for display only: statements
// that run pass values as parameters.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}

// sortedObjects lists the objects of an ACL map in a stable order.
func sortedObjects(m map[catalog.Object]*catalog.ACL) []catalog.Object {
	out := slices.Collect(maps.Keys(m))
	slices.SortFunc(out, func(a, b catalog.Object) int {
		return cmp.Or(cmp.Compare(a.Schema, b.Schema), cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.Name, b.Name), cmp.Compare(a.Column, b.Column))
	})
	return out
}
