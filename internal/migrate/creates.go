package migrate

import (
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/migrate/sqlscan"
)

// Creates reads, statically, which tables and columns the migrations
// create: "schema.table" -> its columns, from the Up part of every file
// (CREATE TABLE, and ALTER TABLE ... ADD [COLUMN] for a table they create).
// files are by service, as LoadFiles returns them. The apply pipeline
// checks links against it before it changes anything.
func Creates(p *manifest.Project, files map[string][]*File) map[string][]string {
	out := map[string][]string{}
	for _, svc := range p.Services {
		for table, cols := range tablesOf(svc, files[svc.Name]) {
			key := svc.Schema + "." + table
			for c := range cols {
				out[key] = append(out[key], c)
			}
			if out[key] == nil {
				out[key] = []string{}
			}
		}
	}
	return out
}

// TableColumns returns the columns, with their types, of table as the
// migrations of svc create it; a column added by ALTER TABLE has type "".
// It returns nil when they do not create the table.
func TableColumns(svc *manifest.Service, files []*File, table string) map[string]string {
	return tablesOf(svc, files)[table]
}

// tablesOf maps each table the migrations of svc create to its columns.
func tablesOf(svc *manifest.Service, files []*File) map[string]map[string]string {
	tables := map[string]map[string]string{}
	inSchema := func(n sqlscan.Name) bool { return n.Schema == "" || n.Schema == svc.Schema }
	for _, f := range files {
		for _, st := range f.Up {
			if t, ok := sqlscan.CreateTable(st.SQL); ok && inSchema(t.Name) {
				cols := map[string]string{}
				for _, c := range t.Columns {
					cols[c.Name] = c.Type
				}
				tables[t.Name.Name] = cols
				continue
			}
			if n, added := addedColumns(st.SQL); inSchema(n) && tables[n.Name] != nil {
				for _, c := range added {
					if _, ok := tables[n.Name][c]; !ok {
						tables[n.Name][c] = ""
					}
				}
			}
		}
	}
	return tables
}

// addedColumns returns the table of an ALTER TABLE statement and the
// columns its ADD [COLUMN] [IF NOT EXISTS] clauses add.
func addedColumns(sql string) (sqlscan.Name, []string) {
	toks := sqlscan.Tokens(sql)
	if len(toks) < 3 || !toks[0].Is("alter") || !toks[1].Is("table") {
		return sqlscan.Name{}, nil
	}
	i := 2
	if toks[i].Is("if") {
		i += 2
	}
	if i < len(toks) && toks[i].Is("only") {
		i++
	}
	n, next, ok := sqlscan.ReadName(toks, i)
	if !ok {
		return sqlscan.Name{}, nil
	}
	var cols []string
	for j := next; j < len(toks)-1; j++ {
		if !toks[j].Is("add") {
			continue
		}
		k := j + 1
		if toks[k].Is("column") {
			k++
		}
		if k+3 < len(toks) && toks[k].Is("if") {
			k += 3
		}
		if k < len(toks) && toks[k].IsName() && !isConstraintWord(toks[k]) {
			cols = append(cols, toks[k].Text)
		}
	}
	return n, cols
}

func isConstraintWord(t sqlscan.Token) bool {
	for _, w := range []string{"constraint", "primary", "unique", "foreign", "check", "exclude"} {
		if t.Is(w) {
			return true
		}
	}
	return false
}
