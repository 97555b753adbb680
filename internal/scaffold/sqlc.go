package scaffold

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// appendSqlcPackage adds entry, one item of sqlc.yaml's `sql` list written
// with its dash indented by two spaces, to the sqlc.yaml in data. The file
// is edited as text when `sql` is its last key, keeping every comment and
// blank line; otherwise it is re-encoded from its YAML tree, which keeps
// the comments. name is the service, for the duplicate check.
func appendSqlcPackage(data []byte, entry, name string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", SqlcFile, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: want a mapping with version and sql keys", SqlcFile)
	}
	top := doc.Content[0]
	var sqlKey, sqlVal *yaml.Node
	last := false
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "sql" {
			sqlKey, sqlVal = top.Content[i], top.Content[i+1]
			last = i+2 == len(top.Content)
		}
	}
	if sqlVal == nil {
		return nil, fmt.Errorf("%s: no sql list (this is not a sqlc version 2 configuration)", SqlcFile)
	}
	if sqlVal.Kind != yaml.SequenceNode && !(sqlVal.Kind == yaml.ScalarNode && sqlVal.Tag == "!!null") {
		return nil, fmt.Errorf("%s:%d: sql is not a list", SqlcFile, sqlVal.Line)
	}
	for _, item := range sqlVal.Content {
		if q := lookup(item, "queries"); q != nil && strings.TrimSuffix(q.Value, "/") == "queries/"+name {
			return nil, fmt.Errorf("%s:%d: already has a package for %s (queries: %s)", SqlcFile, item.Line, name, q.Value)
		}
		if out := lookup(lookup(lookup(item, "gen"), "go"), "out"); out != nil && strings.TrimSuffix(out.Value, "/") == "gen/"+name {
			return nil, fmt.Errorf("%s:%d: already has a package writing to gen/%s", SqlcFile, out.Line, name)
		}
	}

	lines := strings.SplitAfter(string(data), "\n")
	switch {
	case last && sqlVal.Kind == yaml.SequenceNode && sqlVal.Style&yaml.FlowStyle == 0 && len(sqlVal.Content) > 0:
		// A block list: append the entry at the end, indented like its items.
		delta := sqlVal.Content[0].Column - 5 // our entry's keys sit at column 5
		text := strings.TrimRight(string(data), "\n") + "\n\n" + reindent(entry, delta)
		return []byte(text), nil
	case last && (len(sqlVal.Content) == 0) && sqlVal.Line == sqlKey.Line && sqlVal.Line <= len(lines):
		// sql: [] or sql: (nothing): make it a block list holding the entry.
		i := sqlVal.Line - 1
		comment := ""
		if sqlVal.LineComment != "" {
			comment = " " + sqlVal.LineComment
		}
		lines[i] = strings.Repeat(" ", sqlKey.Column-1) + "sql:" + comment + "\n"
		text := strings.TrimRight(strings.Join(lines, ""), "\n") + "\n" + reindent(entry, sqlKey.Column-1)
		return []byte(text), nil
	}
	// Anything else: edit the tree.
	var item yaml.Node
	if err := yaml.Unmarshal([]byte(reindent(entry, -2)), &item); err != nil {
		return nil, fmt.Errorf("sqlc package template: %w", err)
	}
	if sqlVal.Kind != yaml.SequenceNode {
		*sqlVal = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	}
	sqlVal.Style = 0
	sqlVal.Content = append(sqlVal.Content, item.Content[0].Content...)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", SqlcFile, err)
	}
	return b.Bytes(), nil
}

// lookup returns the value of key in mapping node n, or nil.
func lookup(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// reindent shifts every non-empty line of text by delta spaces.
func reindent(text string, delta int) string {
	if delta == 0 {
		return text
	}
	var b strings.Builder
	for line := range strings.SplitAfterSeq(text, "\n") {
		if strings.TrimSpace(line) == "" {
			b.WriteString(line)
			continue
		}
		if delta > 0 {
			b.WriteString(strings.Repeat(" ", delta) + line)
			continue
		}
		n := 0
		for n < -delta && n < len(line) && line[n] == ' ' {
			n++
		}
		b.WriteString(line[n:])
	}
	return b.String()
}
