package provision

import (
	"fmt"
	"slices"
	"strings"
)

// Action is the kind of a Change, as plans show it.
type Action string

// The kinds of change a plan holds.
const (
	ActionCreateDatabase    Action = "create database"
	ActionCreateRole        Action = "create role"
	ActionAlterRole         Action = "alter role"
	ActionMarkRole          Action = "mark role"
	ActionPassword          Action = "password"
	ActionMembership        Action = "membership"
	ActionCreateSchema      Action = "create schema"
	ActionCreateExtension   Action = "create extension"
	ActionGrant             Action = "grant"
	ActionRevoke            Action = "revoke"
	ActionDefaultPrivileges Action = "default privileges"
	ActionRoleSetting       Action = "role setting"
	ActionGuard             Action = "guard"
)

// Change is one statement of a plan.
type Change struct {
	// Service is the service the change belongs to; "" for the project-wide
	// changes (the database, schema public, the guard).
	Service string `json:"service"`
	// Action says what kind of change it is.
	Action Action `json:"action"`
	// SQL is the statement as shown; a password shows as '***'.
	SQL string `json:"sql"`
	// Note says why, when the statement alone does not.
	Note string `json:"note,omitempty"`

	phase phase
	// run is the statement to execute when it is not SQL; args its parameters.
	run  string
	args []any
	// password is set when the change sets an application role's password.
	password *newPassword
	// needsSuper: only a superuser may run it; needsOwnerOfDB: only the
	// database's owner (or a member of it) may.
	needsSuper     bool
	needsOwnerOfDB bool
	// needsAdminOf names the existing role a CREATEROLE admin must hold
	// the ADMIN option on to run it, from PostgreSQL 16 on (grant, revoke
	// or alter that role).
	needsAdminOf string
}

// newPassword is the password a change sets for service's application role.
type newPassword struct {
	service string
	value   string
}

// phase orders execution: every role exists before it is granted anything,
// every schema before its privileges, revokes come before grants (a REVOKE
// on a table also revokes its column privileges), the guard last.
type phase int

const (
	phaseRoles phase = iota
	phaseMembers
	phaseSchemas
	phaseRevoke
	phaseGrant
	phaseGuard
)

// Undeclared is a schema or a role that looks like a service's but that no
// service declares. splitschema never drops it.
type Undeclared struct {
	// Kind is "schema" or "role".
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Service is the service name the role or schema points to, when known.
	Service string `json:"service,omitempty"`
	// Owner is a schema's owner.
	Owner string `json:"owner,omitempty"`
	// Tables and Rows count a schema's tables and their rows; Rows is -1
	// when the admin may not read every table.
	Tables int   `json:"tables"`
	Rows   int64 `json:"rows"`
	// Guarded: the guard still protects the schema (it was declared once).
	Guarded bool `json:"guarded,omitempty"`
}

// Changeset is a plan: the changes that bring the database to the state the
// manifest declares, or, returned by Apply, the changes it made.
type Changeset struct {
	Database string `json:"database"`
	Server   string `json:"server"`
	// Changes in the order they run.
	Changes []Change `json:"changes"`
	// Pending counts the changes still to make: len(Changes) for a plan,
	// 0 once applied.
	Pending int `json:"pending"`
	// Applied is true when Apply made the changes.
	Applied    bool         `json:"applied"`
	Undeclared []Undeclared `json:"undeclared"`
	// Warnings need a person's attention but block nothing.
	Warnings []string `json:"warnings,omitempty"`

	// services lists the service names in dependency order, for grouping.
	services []string
	// problems are mistakes in the input that forbid applying the plan.
	problems []string
}

// Human renders the changeset for a terminal: the SQL grouped by service.
func (cs *Changeset) Human() string {
	var b strings.Builder
	switch {
	case len(cs.Changes) == 0 && cs.Applied:
		fmt.Fprintf(&b, "No changes: database %s on %s already matches the manifest.\n", cs.Database, cs.Server)
	case len(cs.Changes) == 0:
		fmt.Fprintf(&b, "No changes: database %s on %s matches the manifest.\n", cs.Database, cs.Server)
	case cs.Applied:
		fmt.Fprintf(&b, "Provisioned database %s on %s: %d change%s made.\n", cs.Database, cs.Server, len(cs.Changes), plural(len(cs.Changes)))
	default:
		fmt.Fprintf(&b, "Plan for database %s on %s: %d change%s.\n", cs.Database, cs.Server, len(cs.Changes), plural(len(cs.Changes)))
	}
	groups := map[string][]Change{}
	for _, c := range cs.Changes {
		groups[c.Service] = append(groups[c.Service], c)
	}
	for _, svc := range append([]string{""}, cs.services...) {
		changes := groups[svc]
		if len(changes) == 0 {
			continue
		}
		title := svc
		if svc == "" {
			title = "project"
		}
		fmt.Fprintf(&b, "\n%s:\n", title)
		for _, c := range changes {
			fmt.Fprintf(&b, "  %s;", strings.ReplaceAll(c.SQL, "\n", "\n  "))
			if c.Note != "" {
				fmt.Fprintf(&b, "  -- %s", c.Note)
			}
			b.WriteString("\n")
		}
	}
	if len(cs.Undeclared) > 0 {
		b.WriteString("\nundeclared (splitschema never drops them; drop them by hand once they are no longer needed):\n")
		for _, u := range cs.Undeclared {
			b.WriteString("  " + u.String() + "\n")
		}
	}
	if len(cs.Warnings) > 0 {
		b.WriteString("\nwarnings:\n")
		for _, w := range cs.Warnings {
			b.WriteString("  " + w + "\n")
		}
	}
	return b.String()
}

func (u Undeclared) String() string {
	if u.Kind == "role" {
		return fmt.Sprintf("role %s (service %s is not declared)", u.Name, u.Service)
	}
	rows := fmt.Sprintf("%d row%s", u.Rows, plural(int(u.Rows)))
	if u.Rows < 0 {
		rows = "rows unknown (not readable by the admin)"
	}
	s := fmt.Sprintf("schema %s (owner %s): %d table%s, %s", u.Name, u.Owner, u.Tables, plural(u.Tables), rows)
	if u.Guarded {
		s += "; still guarded"
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// sortChanges puts the changes in execution order, keeping the order they
// were found in within a phase and a service.
func (cs *Changeset) sortChanges() {
	rank := map[string]int{"": -1}
	for i, s := range cs.services {
		rank[s] = i
	}
	slices.SortStableFunc(cs.Changes, func(a, b Change) int {
		if a.phase != b.phase {
			return int(a.phase) - int(b.phase)
		}
		return rank[a.Service] - rank[b.Service]
	})
}
