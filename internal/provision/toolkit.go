package provision

import (
	_ "embed"
	"fmt"
	"strings"
)

// ToolkitSchema holds the guard and its table of services; the manifest
// reserves the name.
const ToolkitSchema = "splitschema"

// GuardTrigger is the name of the guard's event trigger on sql_drop, which
// stops one service's DDL from dropping another's objects.
const GuardTrigger = "splitschema_guard"

// GuardDDLTrigger is the name of the guard's event trigger on
// ddl_command_end, which refuses cross-service foreign keys whose action is
// CASCADE, SET NULL or SET DEFAULT.
const GuardDDLTrigger = "splitschema_guard_ddl"

// GuardMessagePrefix starts the message of every error the guard raises
// (SQLSTATE 42501, insufficient_privilege).
const GuardMessagePrefix = "splitschema guard:"

//go:embed guard.sql
var guardSQL string

// toolkit is guard.sql cut into its steps.
var toolkit = mustSteps(guardSQL)

type toolkitSteps struct {
	schema, table, function, trigger, ddlTrigger string
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
	t := toolkitSteps{schema: steps["schema"], table: steps["table"], function: steps["function"], trigger: steps["trigger"], ddlTrigger: steps["ddltrigger"]}
	const marker = "$guard$"
	i := strings.Index(t.function, marker)
	j := strings.LastIndex(t.function, marker)
	if t.schema == "" || t.table == "" || t.trigger == "" || t.ddlTrigger == "" || i < 0 || j <= i {
		panic(fmt.Sprintf("provision: guard.sql lacks a step (%q)", sortedKeys(steps)))
	}
	t.body = t.function[i+len(marker) : j]
	for _, s := range []*string{&t.schema, &t.table, &t.function, &t.trigger, &t.ddlTrigger} {
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

// guardTrigger is one of the guard's event triggers, as guard.sql creates it.
type guardTrigger struct {
	name, event string
	// tags is its WHEN TAG IN filter, sorted; nil for none.
	tags []string
	// create is its CREATE EVENT TRIGGER statement.
	create string
	// without says what is unguarded while it is missing or disabled.
	without string
}

// guardTriggers are the guard's event triggers.
var guardTriggers = []guardTrigger{
	{name: GuardTrigger, event: "sql_drop", create: toolkit.trigger,
		without: "nothing stops a service's DROP ... CASCADE into another service"},
	{name: GuardDDLTrigger, event: "ddl_command_end", tags: []string{"ALTER TABLE", "CREATE TABLE"}, create: toolkit.ddlTrigger,
		without: "nothing stops a foreign key between services ON DELETE CASCADE, SET NULL or SET DEFAULT"},
}
