package backup

import (
	"fmt"
	"strings"
	"testing"
)

// TestDiffersIsReadable: a restore that fails verify with thousands of
// mismatches says how many and lists a few, one per line, never one huge
// line; with few, it lists them all.
func TestDiffersIsReadable(t *testing.T) {
	var many []string
	for i := range 2000 {
		many = append(many, fmt.Sprintf("table s.t%d has %d rows, the backup has %d", i, i, i+1))
	}
	many = append(many, strings.Repeat("x", 5000))
	msg := differs(many).Error()
	if !strings.Contains(msg, "in 2001 ways") || !strings.Contains(msg, "and 1991 more") {
		t.Errorf("error does not count the mismatches:\n%s", msg)
	}
	for _, line := range strings.Split(msg, "\n") {
		if len(line) > 400 {
			t.Errorf("a line of %d bytes", len(line))
		}
	}
	if n := strings.Count(msg, "\n"); n != maxListed+1 {
		t.Errorf("%d lines, want %d", n+1, maxListed+2)
	}
	few := differs([]string{"a", strings.Repeat("y", 1000)}).Error()
	if !strings.Contains(few, "in 2 ways:\n  - a\n  - yyy") || !strings.HasSuffix(few, "…") {
		t.Errorf("few mismatches:\n%s", few)
	}
}
