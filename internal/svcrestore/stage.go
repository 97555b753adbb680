package svcrestore

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The backup's rows are staged in temporary tables of the restore's own
// session: nothing another session sees, nothing WAL-logged, and nothing
// left behind whatever happens to the restore, since the server drops a
// session's temporary tables when the session ends, killed client
// included. The rows come from the backup's own archive: pg_restore
// --data-only writes its COPY blocks, byte for byte what pg_dump wrote,
// and each block goes into its staging table through COPY, so every value
// is the backup's exactly.

// stagePrefix starts the name of every staging table.
const stagePrefix = "splitschema_stage_"

// createStages creates one empty temporary table per table, with its
// columns and types.
func createStages(ctx context.Context, conn *pgx.Conn, tables []*table) error {
	for i, t := range tables {
		if t.Partitioned {
			continue
		}
		t.stage = pgx.Identifier{"pg_temp", stagePrefix + strconv.Itoa(i)}.Sanitize()
		if _, err := conn.Exec(ctx, "CREATE TEMPORARY TABLE "+t.stage+" (LIKE "+t.ident()+")"); err != nil {
			return fmt.Errorf("create the staging table of %s: %w", t.qualified(), err)
		}
	}
	return nil
}

// backupSequence is a sequence value the backup holds.
type backupSequence struct {
	// Name is the sequence as pg_dump names it: schema.name, quoted as
	// needed.
	Name   string
	Value  int64
	Called bool
}

// loader feeds pg_restore's script output into the staging tables.
type loader struct {
	conn   *pgx.Conn
	tables map[string]*table // by schema.table
	seqs   []backupSequence
	// copying is called when a table's rows start to load.
	copying func(t *table)
	// differs is told the tables whose columns are not the live table's:
	// their rows are skipped, the restore will be refused.
	differs func(err error)
}

var setvalLine = regexp.MustCompile(`^SELECT pg_catalog\.setval\('((?:[^']|'')*)', (-?[0-9]+), (true|false)\);$`)

// load reads the script from r: each COPY block goes into its table's
// staging table; sequence values are kept; everything else (settings,
// comments) is skipped.
func (l *loader) load(ctx context.Context, r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadString('\n')
		if errors.Is(err, io.EOF) {
			if line != "" {
				return fmt.Errorf("pg_restore's output ends in the middle of a line")
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("read pg_restore's output: %w", err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(line, "COPY "):
			if err := l.copyBlock(ctx, line, br); err != nil {
				return err
			}
		case strings.HasPrefix(line, "SELECT pg_catalog.setval("):
			m := setvalLine.FindStringSubmatch(line)
			if m == nil {
				return fmt.Errorf("pg_restore's output: cannot read sequence value %q", line)
			}
			v, err := strconv.ParseInt(m[2], 10, 64)
			if err != nil {
				return fmt.Errorf("pg_restore's output: sequence value %q: %w", line, err)
			}
			l.seqs = append(l.seqs, backupSequence{Name: strings.ReplaceAll(m[1], "''", "'"), Value: v, Called: m[3] == "true"})
		}
	}
}

// copyBlock loads one COPY block, whose header is line, into its table's
// staging table.
func (l *loader) copyBlock(ctx context.Context, line string, br *bufio.Reader) error {
	schema, name, cols, err := parseCopyHeader(line)
	if err != nil {
		return fmt.Errorf("pg_restore's output: %w", err)
	}
	t := l.tables[schema+"."+name]
	if t == nil || t.stage == "" {
		l.differs(fmt.Errorf("the backup holds rows of table %s.%s, which the live database does not have: the live schema differs from the backup's", schema, name))
		return skipBlock(br)
	}
	if err := checkColumns(t, cols); err != nil {
		t.differs = true
		l.differs(err)
		return skipBlock(br)
	}
	t.cols = cols
	if l.copying != nil {
		l.copying(t)
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = pgx.Identifier{c}.Sanitize()
	}
	block := &copyData{r: br, lineStart: true}
	tag, err := l.conn.PgConn().CopyFrom(ctx, block, "COPY "+t.stage+" ("+strings.Join(quoted, ", ")+") FROM STDIN")
	if err != nil {
		if block.err != nil {
			err = block.err
		}
		return fmt.Errorf("load the backup's rows of %s: %w", t.qualified(), err)
	}
	if !block.done {
		return fmt.Errorf("load the backup's rows of %s: pg_restore's output ended inside the table's data", t.qualified())
	}
	t.loaded += tag.RowsAffected()
	return nil
}

// skipBlock reads the rest of a COPY block.
func skipBlock(br *bufio.Reader) error {
	_, err := io.Copy(io.Discard, &copyData{r: br, lineStart: true})
	return err
}

// checkColumns refuses a backup whose columns of t are not the live
// table's: a schema that differs from the backup's, though the migration
// versions may be the same.
func checkColumns(t *table, cols []string) error {
	var live []string
	for _, c := range t.Columns {
		if !c.Generated {
			live = append(live, c.Name)
		}
	}
	var onlyBackup, onlyLive []string
	for _, c := range cols {
		if !slices.Contains(live, c) {
			onlyBackup = append(onlyBackup, c)
		}
	}
	for _, c := range live {
		if !slices.Contains(cols, c) {
			onlyLive = append(onlyLive, c)
		}
	}
	if len(onlyBackup)+len(onlyLive) == 0 {
		return nil
	}
	var parts []string
	if len(onlyBackup) > 0 {
		parts = append(parts, "only the backup has column(s) "+strings.Join(onlyBackup, ", "))
	}
	if len(onlyLive) > 0 {
		parts = append(parts, "only the live table has column(s) "+strings.Join(onlyLive, ", "))
	}
	return fmt.Errorf("table %s differs from the backup's: %s; a service restore needs the live schema to be the backup's", t.qualified(), strings.Join(parts, "; "))
}

// copyData reads the rows of one COPY block, up to its "\." line, which it
// consumes but does not pass on.
type copyData struct {
	r         *bufio.Reader
	pending   []byte
	lineStart bool
	done      bool
	err       error
}

func (c *copyData) Read(p []byte) (int, error) {
	if c.done {
		return 0, io.EOF
	}
	if len(c.pending) == 0 {
		chunk, err := c.r.ReadSlice('\n')
		switch {
		case err == nil || errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			c.err = errors.New("pg_restore's output ended inside a table's data")
			return 0, c.err
		default:
			c.err = fmt.Errorf("read pg_restore's output: %w", err)
			return 0, c.err
		}
		if c.lineStart && bytes.Equal(chunk, []byte("\\.\n")) {
			c.done = true
			return 0, io.EOF
		}
		c.pending = chunk
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	c.lineStart = n > 0 && p[n-1] == '\n'
	return n, nil
}

// parseCopyHeader reads `COPY schema.table (col, ...) FROM stdin;`, names
// quoted as pg_dump quotes them.
func parseCopyHeader(line string) (schema, table string, cols []string, err error) {
	rest := strings.TrimPrefix(line, "COPY ")
	bad := fmt.Errorf("cannot read COPY header %q", line)
	if schema, rest, err = parseIdent(rest); err != nil || !strings.HasPrefix(rest, ".") {
		return "", "", nil, bad
	}
	if table, rest, err = parseIdent(rest[1:]); err != nil {
		return "", "", nil, bad
	}
	if strings.HasPrefix(rest, " (") {
		rest = rest[2:]
		for {
			var c string
			if c, rest, err = parseIdent(rest); err != nil {
				return "", "", nil, bad
			}
			cols = append(cols, c)
			if strings.HasPrefix(rest, ", ") {
				rest = rest[2:]
				continue
			}
			if !strings.HasPrefix(rest, ")") {
				return "", "", nil, bad
			}
			rest = rest[1:]
			break
		}
	}
	if rest != " FROM stdin;" {
		return "", "", nil, bad
	}
	return schema, table, cols, nil
}

// parseIdent reads one identifier, plain or double-quoted, from the start
// of s.
func parseIdent(s string) (ident, rest string, err error) {
	if strings.HasPrefix(s, `"`) {
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			if s[i] != '"' {
				b.WriteByte(s[i])
				continue
			}
			if i+1 < len(s) && s[i+1] == '"' {
				b.WriteByte('"')
				i++
				continue
			}
			return b.String(), s[i+1:], nil
		}
		return "", "", errors.New("unterminated quoted identifier")
	}
	i := strings.IndexFunc(s, func(r rune) bool { return r == '.' || r == ' ' || r == ',' || r == ')' || r == '(' })
	if i == 0 {
		return "", "", errors.New("no identifier")
	}
	if i < 0 {
		i = len(s)
	}
	return s[:i], s[i:], nil
}

// indexStages gives each staging table the primary key's unique index and
// fresh statistics, for the merge's joins.
func indexStages(ctx context.Context, conn *pgx.Conn, tables []*table) error {
	for _, t := range tables {
		if t.stage == "" {
			continue
		}
		if len(t.PK) > 0 {
			cols := make([]string, len(t.PK))
			for i, c := range t.PK {
				cols[i] = pgx.Identifier{c}.Sanitize()
			}
			if _, err := conn.Exec(ctx, "CREATE UNIQUE INDEX ON "+t.stage+" ("+strings.Join(cols, ", ")+")"); err != nil {
				return fmt.Errorf("index the staged rows of %s by primary key: %w", t.qualified(), err)
			}
		}
		if _, err := conn.Exec(ctx, "ANALYZE "+t.stage); err != nil {
			return fmt.Errorf("analyze the staged rows of %s: %w", t.qualified(), err)
		}
	}
	return nil
}
