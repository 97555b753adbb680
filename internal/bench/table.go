package bench

import (
	"fmt"
	"strings"
)

// unit says what a row's figures measure and how they are shown.
type unit int

const (
	unitSeconds   unit = iota // wall time
	unitBytes                 // size on disk
	unitPerSecond             // committed transactions per second
)

// format renders one figure of unit u.
func (u unit) format(v float64) string {
	switch u {
	case unitBytes:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case unitPerSecond:
		return fmt.Sprintf("%.1f tx/s", v)
	}
	if v < 1 {
		return fmt.Sprintf("%.0f ms", v*1000)
	}
	return fmt.Sprintf("%.2f s", v)
}

// floor is the bound a row must meet, from issue 7.
type floor struct {
	text string
	met  func(ours, base, ratio float64) bool
}

// ratioAtMost: splitschema costs at most x times the baseline.
func ratioAtMost(x float64) *floor {
	return &floor{text: fmt.Sprintf("≤ %.2f×", x), met: func(_, _, r float64) bool { return r <= x }}
}

// ratioAtLeast: splitschema keeps at least x times the baseline.
func ratioAtLeast(x float64) *floor {
	return &floor{text: fmt.Sprintf("≥ %.2f×", x), met: func(_, _, r float64) bool { return r >= x }}
}

// under: splitschema's own figure stays under s seconds, whatever the
// baseline.
func under(s float64) *floor {
	return &floor{text: fmt.Sprintf("< %s", unitSeconds.format(s)), met: func(o, _, _ float64) bool { return o < s }}
}

// row is one line of the table: splitschema's figure and the baseline's,
// one of each per run.
type row struct {
	// what names the measurement and its baseline.
	what       string
	unit       unit
	ours, base []float64
	// floor is nil when the issue sets none.
	floor *floor
}

// add records one run.
func (r *row) add(ours, base float64) {
	r.ours = append(r.ours, ours)
	r.base = append(r.base, base)
}

// figures are the medians over the runs: splitschema's, the baseline's,
// and the median of the per-run ratios.
func (r *row) figures() (ours, base, ratio float64) {
	return median(r.ours), median(r.base), median(ratios(r.ours, r.base))
}

// verdict is "yes", "**no**", or "—" without a floor.
func (r *row) verdict() string {
	if r.floor == nil || len(r.ours) == 0 {
		return "—"
	}
	if r.met() {
		return "yes"
	}
	return "**no**"
}

// met reports whether the row meets its floor; true without one.
func (r *row) met() bool {
	if r.floor == nil || len(r.ours) == 0 {
		return true
	}
	o, b, x := r.figures()
	return r.floor.met(o, b, x)
}

// markdownTable renders the rows as one markdown table.
func markdownTable(rows []*row) string {
	var b strings.Builder
	b.WriteString("| what | splitschema | baseline | ratio | floor | met? |\n")
	b.WriteString("|---|---:|---:|---:|---|---|\n")
	for _, r := range rows {
		o, base, x := r.figures()
		fl := "—"
		if r.floor != nil {
			fl = r.floor.text
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.2f× | %s | %s |\n",
			r.what, r.unit.format(o), r.unit.format(base), x, fl, r.verdict())
	}
	return b.String()
}
