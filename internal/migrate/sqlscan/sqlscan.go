// Package sqlscan splits PostgreSQL statements into tokens, enough to
// recognise the few statement shapes splitschema checks (REFERENCES
// clauses, ALTER TABLE actions, CREATE INDEX, SET ROLE). It is a lexer, not
// a parser: comments vanish, string literals and quoted identifiers are
// single tokens, so a keyword inside either never matches.
package sqlscan

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is the kind of a token.
type Kind int

// The token kinds.
const (
	Word   Kind = iota // an unquoted keyword or identifier, lower-cased
	Quoted             // a "quoted identifier", without its quotes
	String             // a string literal: '...', E'...', $tag$...$tag$; Text is its body
	Number
	Punct // one character of punctuation or an operator character
	Param // $1
)

// Token is one lexical element of a statement.
type Token struct {
	Kind Kind
	Text string
	// Pos is the byte offset of the token in the statement.
	Pos int
	// Dollar marks a dollar-quoted string: usually a function or DO body.
	Dollar bool
}

// Is reports whether t is the unquoted word w (lower case).
func (t Token) Is(w string) bool { return t.Kind == Word && t.Text == w }

// IsPunct reports whether t is the punctuation character p.
func (t Token) IsPunct(p string) bool { return t.Kind == Punct && t.Text == p }

// IsName reports whether t can be an identifier (a word or a quoted identifier).
func (t Token) IsName() bool { return t.Kind == Word || t.Kind == Quoted }

// Tokens splits sql into tokens, dropping whitespace and comments.
func Tokens(sql string) []Token {
	var out []Token
	i := 0
	for i < len(sql) {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				i = len(sql)
			} else {
				i += j + 1
			}
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			depth, j := 1, i+2
			for j < len(sql) && depth > 0 {
				switch {
				case strings.HasPrefix(sql[j:], "/*"):
					depth++
					j += 2
				case strings.HasPrefix(sql[j:], "*/"):
					depth--
					j += 2
				default:
					j++
				}
			}
			i = j
		case c == '\'':
			body, j := quoted(sql, i, '\'', false)
			out = append(out, Token{Kind: String, Text: body, Pos: i})
			i = j
		case (c == 'e' || c == 'E') && i+1 < len(sql) && sql[i+1] == '\'':
			body, j := quoted(sql, i+1, '\'', true)
			out = append(out, Token{Kind: String, Text: body, Pos: i})
			i = j
		case c == '"':
			body, j := quoted(sql, i, '"', false)
			out = append(out, Token{Kind: Quoted, Text: body, Pos: i})
			i = j
		case c == '$':
			if tag, ok := dollarTag(sql[i:]); ok {
				rest := sql[i+len(tag):]
				end := strings.Index(rest, tag)
				if end < 0 {
					out = append(out, Token{Kind: String, Text: rest, Pos: i, Dollar: true})
					i = len(sql)
				} else {
					out = append(out, Token{Kind: String, Text: rest[:end], Pos: i, Dollar: true})
					i += len(tag) + end + len(tag)
				}
				continue
			}
			j := i + 1
			for j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
				j++
			}
			if j > i+1 {
				out = append(out, Token{Kind: Param, Text: sql[i:j], Pos: i})
			} else {
				out = append(out, Token{Kind: Punct, Text: "$", Pos: i})
			}
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(sql) && (sql[j] >= '0' && sql[j] <= '9' || sql[j] == '.' || sql[j] == '_') {
				j++
			}
			out = append(out, Token{Kind: Number, Text: sql[i:j], Pos: i})
			i = j
		case isIdentStart(sql, i):
			j := i
			for j < len(sql) && isIdentPart(sql, j) {
				_, size := utf8.DecodeRuneInString(sql[j:])
				j += size
			}
			out = append(out, Token{Kind: Word, Text: strings.ToLower(sql[i:j]), Pos: i})
			i = j
		default:
			_, size := utf8.DecodeRuneInString(sql[i:])
			out = append(out, Token{Kind: Punct, Text: sql[i : i+size], Pos: i})
			i += size
		}
	}
	return out
}

// quoted reads a literal opened by q at sql[i]; a doubled q is one q, and
// with backslash escapes \x skips x. It returns the body and the offset
// after the closing quote.
func quoted(sql string, i int, q byte, backslash bool) (string, int) {
	var b strings.Builder
	j := i + 1
	for j < len(sql) {
		c := sql[j]
		switch {
		case backslash && c == '\\' && j+1 < len(sql):
			b.WriteByte(sql[j+1])
			j += 2
		case c == q && j+1 < len(sql) && sql[j+1] == q:
			b.WriteByte(q)
			j += 2
		case c == q:
			return b.String(), j + 1
		default:
			b.WriteByte(c)
			j++
		}
	}
	return b.String(), j
}

// dollarTag returns the $tag$ opening s, if any.
func dollarTag(s string) (string, bool) {
	if len(s) < 2 {
		return "", false
	}
	for j := 1; j < len(s); j++ {
		c := s[j]
		if c == '$' {
			return s[:j+1], true
		}
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 || j > 1 && c >= '0' && c <= '9') {
			return "", false
		}
	}
	return "", false
}

func isIdentStart(s string, i int) bool {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return r == '_' || unicode.IsLetter(r)
}

func isIdentPart(s string, i int) bool {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return r == '_' || r == '$' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// LineOf returns the 0-based line, within sql, of byte offset pos.
func LineOf(sql string, pos int) int {
	if pos > len(sql) {
		pos = len(sql)
	}
	return strings.Count(sql[:pos], "\n")
}

// Name is a possibly schema-qualified object name.
type Name struct {
	Schema string // empty when unqualified
	Name   string
}

func (n Name) String() string {
	if n.Schema == "" {
		return n.Name
	}
	return n.Schema + "." + n.Name
}

// ReadName reads a name (one or two identifier parts) at toks[i]; it
// returns the name and the index after it, or ok false.
func ReadName(toks []Token, i int) (n Name, next int, ok bool) {
	if i >= len(toks) || !toks[i].IsName() {
		return Name{}, i, false
	}
	first := toks[i].Text
	if i+2 < len(toks) && toks[i+1].IsPunct(".") && toks[i+2].IsName() {
		return Name{Schema: first, Name: toks[i+2].Text}, i + 3, true
	}
	return Name{Name: first}, i + 1, true
}

// ReadColumnList reads "(a, b)" at toks[i]; ok is false when there is none.
func ReadColumnList(toks []Token, i int) (cols []string, next int, ok bool) {
	if i >= len(toks) || !toks[i].IsPunct("(") {
		return nil, i, false
	}
	j := i + 1
	for j < len(toks) {
		switch {
		case toks[j].IsPunct(")"):
			return cols, j + 1, true
		case toks[j].IsPunct(","):
			j++
		case toks[j].IsName():
			cols = append(cols, toks[j].Text)
			j++
		default:
			return cols, j, false
		}
	}
	return cols, j, false
}

// Reference is a REFERENCES clause: the table and, when listed, columns.
type Reference struct {
	Table   Name
	Columns []string
	// Pos is the byte offset of the REFERENCES keyword.
	Pos int
}

// References lists the REFERENCES clauses of a statement, in order.
func References(toks []Token) []Reference {
	var out []Reference
	for i := 0; i < len(toks); i++ {
		if !toks[i].Is("references") {
			continue
		}
		n, next, ok := ReadName(toks, i+1)
		if !ok {
			continue
		}
		r := Reference{Table: n, Pos: toks[i].Pos}
		if cols, _, ok := ReadColumnList(toks, next); ok {
			r.Columns = cols
		}
		out = append(out, r)
	}
	return out
}

// SetsRole reports whether the statement changes the current role or the
// session authorization (SET [SESSION|LOCAL] ROLE, SET/RESET SESSION
// AUTHORIZATION, set_config('role', ...)), also inside dollar-quoted bodies
// such as DO blocks and the strings they EXECUTE. RESET ROLE is fine: it
// returns to the role the connection started as. It returns the offending
// token's offset.
func SetsRole(sql string) (int, bool) { return setsRole(sql, false) }

// statementStarts are the words after which a SET starts a statement in
// PL/pgSQL.
var statementStarts = map[string]bool{"begin": true, "then": true, "else": true, "loop": true, "declare": true}

func setsRole(sql string, nested bool) (int, bool) {
	toks := Tokens(sql)
	for i, t := range toks {
		starts := i == 0 || toks[i-1].IsPunct(";") || toks[i-1].Kind == Word && statementStarts[toks[i-1].Text]
		switch {
		case (t.Is("set") || t.Is("reset")) && starts:
			j := i + 1
			if j < len(toks) && (toks[j].Is("session") || toks[j].Is("local")) {
				if toks[j].Is("session") && j+1 < len(toks) && toks[j+1].Is("authorization") {
					return t.Pos, true
				}
				j++
			}
			if t.Is("set") && j < len(toks) && toks[j].Is("role") {
				return t.Pos, true
			}
		case t.Is("set_config"):
			if i+2 < len(toks) && toks[i+1].IsPunct("(") && toks[i+2].Kind == String {
				if v := strings.ToLower(toks[i+2].Text); v == "role" || v == "session_authorization" {
					return t.Pos, true
				}
			}
		case t.Kind == String && (t.Dollar || nested):
			if off, ok := setsRole(t.Text, true); ok {
				return t.Pos + off, true
			}
		}
	}
	return 0, false
}

// Column is one column of a CREATE TABLE.
type Column struct {
	Name string
	// Type is the column's type as written, e.g. "bigint" or "numeric(10, 2)".
	Type string
}

// columnEnd are the words that end a column's type in its definition.
var columnEnd = map[string]bool{
	"not": true, "null": true, "default": true, "primary": true, "references": true, "check": true,
	"unique": true, "generated": true, "constraint": true, "collate": true, "compression": true,
	"storage": true,
}

// tableConstraint are the words that start a table constraint, not a column.
var tableConstraint = map[string]bool{
	"constraint": true, "primary": true, "unique": true, "check": true, "foreign": true, "exclude": true, "like": true,
}

// Table is what a CREATE TABLE statement declares.
type Table struct {
	Name    Name
	Columns []Column
	// PrimaryKey lists the primary key columns, inline or as a constraint.
	PrimaryKey []string
}

// CreateTable reads a CREATE [UNLOGGED|TEMP] TABLE [IF NOT EXISTS] name
// (...) statement. ok is false for any other statement, including CREATE
// TABLE ... AS and PARTITION OF.
func CreateTable(sql string) (t Table, ok bool) {
	toks := Tokens(sql)
	i, ok := createTableName(toks)
	if !ok {
		return Table{}, false
	}
	t.Name, i, ok = ReadName(toks, i)
	if !ok || i >= len(toks) || !toks[i].IsPunct("(") {
		return Table{}, false
	}
	i++
	depth := 0
	itemStart := i
	for ; i < len(toks); i++ {
		tok := toks[i]
		switch {
		case tok.IsPunct("("):
			depth++
		case tok.IsPunct(")") && depth > 0:
			depth--
		case (tok.IsPunct(",") || tok.IsPunct(")")) && depth == 0:
			item := toks[itemStart:i]
			if c, ok := columnDef(sql, item, tok.Pos); ok {
				t.Columns = append(t.Columns, c)
				if HasWords(item, "primary", "key") {
					t.PrimaryKey = []string{c.Name}
				}
			} else if j := IndexWords(item, "primary", "key"); j >= 0 {
				if cols, _, ok := ReadColumnList(item, j+2); ok {
					t.PrimaryKey = cols
				}
			}
			if tok.IsPunct(")") {
				return t, true
			}
			itemStart = i + 1
		}
	}
	return t, true
}

// CreatedTable returns the table a CREATE TABLE statement creates, also
// for CREATE TABLE ... AS and PARTITION OF.
func CreatedTable(toks []Token) (Name, bool) {
	i, ok := createTableName(toks)
	if !ok {
		return Name{}, false
	}
	n, _, ok := ReadName(toks, i)
	return n, ok
}

// createTableName returns the index of the table name of a CREATE TABLE.
func createTableName(toks []Token) (int, bool) {
	i := 0
	if i >= len(toks) || !toks[i].Is("create") {
		return 0, false
	}
	i++
	for i < len(toks) && (toks[i].Is("unlogged") || toks[i].Is("temp") || toks[i].Is("temporary") || toks[i].Is("global") || toks[i].Is("local")) {
		i++
	}
	if i >= len(toks) || !toks[i].Is("table") {
		return 0, false
	}
	i++
	if i+2 < len(toks) && toks[i].Is("if") && toks[i+1].Is("not") && toks[i+2].Is("exists") {
		i += 3
	}
	return i, i < len(toks)
}

// IndexWords returns the index in toks where the words follow each other,
// or -1.
func IndexWords(toks []Token, words ...string) int {
	for i := 0; i+len(words) <= len(toks); i++ {
		match := true
		for j, w := range words {
			if !toks[i+j].Is(w) {
				match = false
				break
			}
		}
		if match {
			return i
		}
	}
	return -1
}

// HasWords reports whether the words follow each other in toks.
func HasWords(toks []Token, words ...string) bool { return IndexWords(toks, words...) >= 0 }

// columnDef reads one item of a CREATE TABLE list; end is the offset of
// the comma or parenthesis that ends it.
func columnDef(sql string, item []Token, end int) (Column, bool) {
	if len(item) < 2 || !item[0].IsName() || item[0].Kind == Word && tableConstraint[item[0].Text] {
		return Column{}, false
	}
	typeEnd := end
	depth := 0
	for _, t := range item[1:] {
		switch {
		case t.IsPunct("("):
			depth++
		case t.IsPunct(")"):
			depth--
		case depth == 0 && t.Kind == Word && columnEnd[t.Text]:
			typeEnd = t.Pos
		}
		if typeEnd != end {
			break
		}
	}
	typ := strings.Join(strings.Fields(sql[item[1].Pos:typeEnd]), " ")
	switch strings.ToLower(typ) {
	case "serial", "serial4":
		typ = "integer"
	case "bigserial", "serial8":
		typ = "bigint"
	case "smallserial", "serial2":
		typ = "smallint"
	}
	return Column{Name: item[0].Text, Type: typ}, true
}
