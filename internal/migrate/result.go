package migrate

import (
	"fmt"
	"strings"
)

// State is what a run did to one service.
type State string

// The states of a service after a run.
const (
	// StateMigrated: at least one migration ran.
	StateMigrated State = "migrated"
	// StateUnchanged: nothing to do, the service was already there.
	StateUnchanged State = "unchanged"
	// StateFailed: a migration failed; see Error.
	StateFailed State = "failed"
	// StateSkipped: not run because a service it depends on (up) or that
	// depends on it (down) failed or was skipped.
	StateSkipped State = "skipped"
)

// Step is one migration applied or rolled back.
type Step struct {
	Version    int64   `json:"version"`
	File       string  `json:"file"`
	Direction  string  `json:"direction"`
	Empty      bool    `json:"empty,omitempty"`
	DurationMS float64 `json:"duration_ms"`
}

// ServiceResult is what a run did to one service.
type ServiceResult struct {
	Service string `json:"service"`
	Schema  string `json:"schema"`
	State   State  `json:"state"`
	// From and To are the service's versions before and after the run.
	From  int64  `json:"from_version"`
	To    int64  `json:"to_version"`
	Steps []Step `json:"steps"`
	// Error is set when State is StateFailed.
	Error *Error `json:"error,omitempty"`
	// SkippedBecause says why a skipped service did not run.
	SkippedBecause string `json:"skipped_because,omitempty"`
}

// Result is what a migrate run did, service by service, in the order the
// services ran.
type Result struct {
	// Command is up, down or redo.
	Command  Command          `json:"command"`
	OK       bool             `json:"ok"`
	Changed  bool             `json:"changed"`
	Services []*ServiceResult `json:"services"`
}

// Err returns a *RunError listing the failed migrations, or nil.
func (r *Result) Err() error {
	var fails []*Error
	for _, s := range r.Services {
		if s.Error != nil {
			fails = append(fails, s.Error)
		}
	}
	if len(fails) == 0 {
		return nil
	}
	return &RunError{Failures: fails}
}

// Service returns the result of the named service, or nil.
func (r *Result) Service(name string) *ServiceResult {
	for _, s := range r.Services {
		if s.Service == name {
			return s
		}
	}
	return nil
}

// Human renders the result for a terminal.
func (r *Result) Human() string {
	var b strings.Builder
	for _, s := range r.Services {
		b.WriteString(s.Lines())
	}
	switch {
	case !r.OK:
		b.WriteString("migrate " + string(r.Command) + " failed\n")
	case !r.Changed && r.Command == CommandUp:
		b.WriteString("nothing changed: every service is up to date\n")
	case !r.Changed:
		b.WriteString("nothing changed\n")
	}
	return b.String()
}

// Lines renders one service's outcome, one line or a few.
func (s *ServiceResult) Lines() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ", s.Service)
	switch s.State {
	case StateUnchanged:
		fmt.Fprintf(&b, "at version %d, nothing to do\n", s.To)
	case StateMigrated:
		fmt.Fprintf(&b, "version %d -> %d\n", s.From, s.To)
	case StateFailed:
		fmt.Fprintf(&b, "FAILED, at version %d\n", s.To)
	case StateSkipped:
		fmt.Fprintf(&b, "skipped: %s\n", s.SkippedBecause)
	}
	for _, st := range s.Steps {
		state := "OK"
		if st.Empty {
			state = "EMPTY"
		}
		fmt.Fprintf(&b, "  %-5s %-4s %s (%.1fms)\n", state, st.Direction, st.File, st.DurationMS)
	}
	if s.Error != nil {
		for _, line := range strings.Split(s.Error.Error(), "\n") {
			fmt.Fprintf(&b, "  %s\n", line)
		}
	}
	return b.String()
}
