package migrate

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// File is one goose SQL migration, split into statements the way goose
// splits it, with the line each statement starts on.
type File struct {
	// Path is the file's path relative to the project, with slashes.
	Path string `json:"path"`
	// Version is the numeric prefix of the file name.
	Version int64 `json:"version"`
	// NoTransaction is set by `-- +goose NO TRANSACTION`: goose then runs
	// the statements one by one, outside a transaction.
	NoTransaction bool `json:"no_transaction,omitempty"`
	// EnvSub is set when the file turns on `-- +goose ENVSUB ON`: goose
	// then expands ${VAR} from the environment, so the statements it runs
	// may differ from these.
	EnvSub bool        `json:"envsub,omitempty"`
	Up     []Statement `json:"up"`
	Down   []Statement `json:"down"`
}

// Statement is one SQL statement of a migration.
type Statement struct {
	// SQL is the statement as goose sends it: its lines, trimmed.
	SQL string `json:"sql"`
	// Line is the file's line (1-based) the statement starts on.
	Line int `json:"line"`
}

// ParseError is a goose SQL migration goose would refuse to run.
type ParseError struct {
	Path string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

type parseState int

const (
	stateStart parseState = iota
	stateUp
	stateUpBlock // between StatementBegin and StatementEnd
	stateDown
	stateDownBlock
)

// ParseSQL splits a goose SQL migration into its up and down statements.
// It follows goose's own parser (v3.30): annotations `-- +goose Up`,
// `Down`, `StatementBegin`, `StatementEnd`, `NO TRANSACTION`, `ENVSUB
// ON|OFF`; outside a StatementBegin block a statement ends on a line whose
// last word before any `--` ends with a semicolon; comments and blank lines
// before a statement are dropped. So the statements are the very strings
// goose executes, and a failing one can be traced back to its line.
func ParseSQL(path string, data []byte) (*File, error) {
	f := &File{Path: path}
	fail := func(line int, format string, args ...any) (*File, error) {
		return nil, &ParseError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 4<<20)
	state := stateStart
	var buf strings.Builder
	bufLine := 0
	emit := func() {
		st := Statement{SQL: strings.TrimSpace(buf.String()), Line: bufLine}
		if state == stateUp || state == stateUpBlock {
			f.Up = append(f.Up, st)
		} else {
			f.Down = append(f.Down, st)
		}
		buf.Reset()
		bufLine = 0
	}
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if state == stateStart && trimmed == "" {
			continue
		}
		if strings.HasPrefix(trimmed, "--") && strings.Contains(line, "+goose") {
			if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
				return fail(n, "goose annotation %q must start at the beginning of the line", trimmed)
			}
			cmd := strings.TrimSpace(strings.Replace(strings.ReplaceAll(line, "--", ""), "+goose", "", 1))
			if strings.Contains(cmd, "+goose") {
				return fail(n, "more than one +goose annotation on one line")
			}
			switch strings.ToLower(cmd) {
			case "up":
				if state != stateStart {
					return fail(n, "a second `-- +goose Up` annotation")
				}
				state = stateUp
				continue
			case "down":
				if state != stateUp {
					return fail(n, "`-- +goose Down` must follow `-- +goose Up` (and close every StatementBegin first)")
				}
				if strings.TrimSpace(buf.String()) != "" {
					return fail(bufLine, "statement does not end with a semicolon before `-- +goose Down`")
				}
				buf.Reset()
				state = stateDown
				continue
			case "statementbegin":
				switch state {
				case stateUp:
					state = stateUpBlock
				case stateDown:
					state = stateDownBlock
				default:
					return fail(n, "`-- +goose StatementBegin` must come after `-- +goose Up` or `-- +goose Down`, outside another block")
				}
				continue
			case "statementend":
				if state != stateUpBlock && state != stateDownBlock {
					return fail(n, "`-- +goose StatementEnd` without a StatementBegin")
				}
				if strings.TrimSpace(buf.String()) != "" {
					emit()
				}
				buf.Reset()
				if state == stateUpBlock {
					state = stateUp
				} else {
					state = stateDown
				}
				continue
			case "no transaction":
				f.NoTransaction = true
				continue
			case "envsub on":
				f.EnvSub = true
				continue
			case "envsub off":
				continue
			default:
				return fail(n, "unknown goose annotation %q", cmd)
			}
		}
		if buf.Len() == 0 && (strings.HasPrefix(trimmed, "--") || line == "") {
			continue
		}
		if state == stateStart {
			return fail(n, "SQL before `-- +goose Up`: every migration starts with a `-- +goose Up` line")
		}
		if buf.Len() == 0 {
			bufLine = n
		}
		buf.WriteString(line)
		buf.WriteByte('\n')
		if (state == stateUp || state == stateDown) && endsWithSemicolon(line) {
			emit()
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	switch state {
	case stateStart:
		return fail(0, "no `-- +goose Up` annotation: not a goose SQL migration")
	case stateUpBlock, stateDownBlock:
		return fail(n, "`-- +goose StatementBegin` is never closed by a StatementEnd")
	}
	if strings.TrimSpace(buf.String()) != "" {
		return fail(bufLine, "statement does not end with a semicolon")
	}
	return f, nil
}

// endsWithSemicolon reports, as goose does, whether the last word of line
// before any `--` comment ends with a semicolon.
func endsWithSemicolon(line string) bool {
	prev := ""
	for word := range strings.FieldsSeq(line) {
		if strings.HasPrefix(word, "--") {
			break
		}
		prev = word
	}
	return strings.HasSuffix(prev, ";")
}

// Statements returns the up (true) or down statements.
func (f *File) Statements(up bool) []Statement {
	if up {
		return f.Up
	}
	return f.Down
}

// Find returns the statement whose text is sql, searching the given
// direction first; ok is false when none matches (ENVSUB changed it, say).
func (f *File) Find(sql string, up bool) (Statement, bool) {
	sql = strings.TrimSpace(sql)
	for _, dir := range []bool{up, !up} {
		for _, st := range f.Statements(dir) {
			if st.SQL == sql {
				return st, true
			}
		}
	}
	want := strings.Join(strings.Fields(sql), " ")
	for _, st := range f.Statements(up) {
		if strings.Join(strings.Fields(st.SQL), " ") == want {
			return st, true
		}
	}
	return Statement{}, false
}
