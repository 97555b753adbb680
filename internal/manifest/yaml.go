package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	yamlLine         = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)
	yamlUnknownField = regexp.MustCompile(`field (\S+) not found in type \S+`)
	yamlTypeName     = regexp.MustCompile(` into (?:\[\])?[\w.]+\.\w+`)
)

// decodeStrict decodes one YAML document into v, refusing unknown keys and
// further documents. Every YAML error becomes a Problem of file, with the
// line where the parser gives one; allowed lists the keys for the hint.
func decodeStrict(file string, data []byte, v any, allowed string) problems {
	var ps problems
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		ps.add(file, 0, "file is empty")
		return ps
	}
	if err != nil {
		var te *yaml.TypeError
		msgs := []string{err.Error()}
		if errors.As(err, &te) {
			msgs = te.Errors
		}
		for _, m := range msgs {
			line, msg := splitYAMLError(m)
			if yamlUnknownField.MatchString(msg) {
				msg = yamlUnknownField.ReplaceAllString(msg, `unknown key "$1" (allowed: `+allowed+`)`)
			}
			msg = yamlTypeName.ReplaceAllString(msg, "")
			ps.add(file, line, "%s", msg)
		}
		return ps
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		ps.add(file, extra.Line, "a second YAML document; a file holds one")
	} else if !errors.Is(err, io.EOF) {
		line, msg := splitYAMLError(err.Error())
		ps.add(file, line, "%s", msg)
	}
	return ps
}

func splitYAMLError(m string) (int, string) {
	m = strings.TrimPrefix(m, "yaml: unmarshal errors:\n")
	m = strings.TrimSpace(m)
	if sub := yamlLine.FindStringSubmatch(m); sub != nil {
		n, _ := strconv.Atoi(sub[1])
		return n, strings.TrimPrefix(m, sub[0])
	}
	return 0, strings.TrimPrefix(m, "yaml: ")
}

// lineString is a YAML scalar string that remembers its line.
type lineString struct {
	Value string
	Line  int
}

func (s *lineString) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "") {
		return fmt.Errorf("line %d: want a string, got %s", n.Line, describeNode(n))
	}
	s.Value, s.Line = n.Value, n.Line
	return nil
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return fmt.Sprintf("%s %q", strings.TrimPrefix(n.Tag, "!!"), n.Value)
}
