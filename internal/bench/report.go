package bench

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// The markers around the part of the report file the benchmark rewrites;
// everything outside them is left as it is.
const (
	beginMarker = "<!-- bench:begin: written by `make bench`, edits between these markers are lost -->"
	endMarker   = "<!-- bench:end -->"
)

// Markdown renders the machine, the data and the table.
func (r *Report) Markdown() string {
	var b strings.Builder
	if r.machine != nil {
		fmt.Fprintf(&b, "Machine: %s.\n\n", r.machine)
	}
	fmt.Fprintf(&b, "Run: `make bench SCALE=%g RUNS=%d`", r.Config.Scale, r.Config.Runs)
	if len(r.Config.Only) > 0 {
		fmt.Fprintf(&b, " with `ONLY=%s`", strings.Join(r.Config.Only, ","))
	}
	fmt.Fprintf(&b, ", %d parallel jobs", r.Config.Jobs)
	if r.Data != "" {
		fmt.Fprintf(&b, "; the shop: %s", r.Data)
	}
	if r.Seconds > 0 {
		fmt.Fprintf(&b, "; %.0f s from start to the last measurement", r.Seconds)
	}
	if r.Config.Runs == 1 {
		b.WriteString(". Figures are from one run; the ratio is splitschema ÷ baseline, both measured in that run.\n\n")
	} else {
		fmt.Fprintf(&b, ". Figures are medians over %d runs; the ratio is the median of the per-run ratios (splitschema ÷ baseline, both measured in the same run).\n\n", r.Config.Runs)
	}
	b.WriteString(markdownTable(r.rows))
	var missed []string
	floors := 0
	for _, row := range r.rows {
		if row.floor == nil {
			continue
		}
		floors++
		if !row.met() {
			missed = append(missed, row.what)
		}
	}
	fmt.Fprintf(&b, "\nFloors met: %d of %d.", floors-len(missed), floors)
	if len(missed) > 0 {
		fmt.Fprintf(&b, " Missed: %s.", strings.Join(missed, "; "))
	}
	b.WriteString("\n")
	return b.String()
}

// WriteInto puts the report between the benchmark markers of the
// markdown file path, creating the file or the markers when missing, and
// leaves the rest of the file as it is.
func (r *Report) WriteInto(path string) error {
	section := beginMarker + "\n" + r.Markdown() + endMarker + "\n"
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		old = []byte("# Benchmarks\n\n")
	case err != nil:
		return fmt.Errorf("read %s: %w", path, err)
	}
	text, err := replaceSection(string(old), section)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// replaceSection replaces what lies between the markers (markers
// included) with section, or appends section when there are none.
func replaceSection(text, section string) (string, error) {
	i := strings.Index(text, beginMarker)
	j := strings.Index(text, endMarker)
	switch {
	case i < 0 && j < 0:
		if text != "" && !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		return text + "\n" + section, nil
	case i < 0 || j < i:
		return "", errors.New("the benchmark markers are broken: keep both, begin before end")
	}
	rest := text[j+len(endMarker):]
	rest = strings.TrimPrefix(rest, "\n")
	return text[:i] + section + rest, nil
}
