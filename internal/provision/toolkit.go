package provision

import (
	_ "embed"
	"fmt"
	"strings"
)

// ToolkitSchema holds the guard and its table of services; the manifest
// reserves the name.
const ToolkitSchema = "splitschema"

// GuardTrigger is the name of the guard's event trigger.
const GuardTrigger = "splitschema_guard"

// GuardMessagePrefix starts the message of every error the guard raises
// (SQLSTATE 42501, insufficient_privilege).
const GuardMessagePrefix = "splitschema guard:"

//go:embed guard.sql
var guardSQL string

// toolkit is guard.sql cut into its steps.
var toolkit = mustSteps(guardSQL)

type toolkitSteps struct {
	schema, table, function, trigger string
	// body is the guard function's body, as pg_proc.prosrc holds it.
	body string
}

func mustSteps(src string) toolkitSteps {
	steps := map[string]string{}
	var name string
	var b strings.Builder
	flush := func() {
		if name != "" {
			steps[name] = strings.TrimSpace(stripComments(b.String()))
		}
		b.Reset()
	}
	for line := range strings.SplitSeq(src, "\n") {
		if n, ok := strings.CutPrefix(line, "-- step: "); ok {
			flush()
			name = strings.TrimSpace(n)
			continue
		}
		b.WriteString(line + "\n")
	}
	flush()
	t := toolkitSteps{schema: steps["schema"], table: steps["table"], function: steps["function"], trigger: steps["trigger"]}
	const marker = "$guard$"
	i := strings.Index(t.function, marker)
	j := strings.LastIndex(t.function, marker)
	if t.schema == "" || t.table == "" || t.trigger == "" || i < 0 || j <= i {
		panic(fmt.Sprintf("provision: guard.sql lacks a step (%q)", sortedKeys(steps)))
	}
	t.body = t.function[i+len(marker) : j]
	for _, s := range []*string{&t.schema, &t.table, &t.function, &t.trigger} {
		*s = strings.TrimSuffix(*s, ";")
	}
	return t
}

// stripComments drops the whole-line comments that lead a step.
func stripComments(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for len(lines) > 0 && strings.HasPrefix(strings.TrimSpace(lines[0]), "--") {
		lines = lines[1:]
	}
	return strings.Join(lines, "\n")
}
