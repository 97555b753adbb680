package archive

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// idTimeLayout is the time part of a backup id: UTC, second precision, so
// that ids sort by time.
const idTimeLayout = "20060102T150405Z"

var idPattern = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4}$`)

// NewID returns a backup id for time t: its UTC time and 4 random hex
// digits, e.g. 20261125T201500Z-3fa9. Ids sort by time.
func NewID(t time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return t.UTC().Format(idTimeLayout) + "-" + hex.EncodeToString(b[:])
}

// ValidID reports whether id has the form NewID makes.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// CheckID returns an error naming id when it is not a backup id.
func CheckID(id string) error {
	if !ValidID(id) {
		return fmt.Errorf("%q is not a backup id (they look like 20261125T201500Z-3fa9; `splitschema backup list` shows them)", id)
	}
	return nil
}

// IDTime returns the time an id was made at.
func IDTime(id string) (time.Time, bool) {
	stamp, _, ok := strings.Cut(id, "-")
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(idTimeLayout, stamp)
	return t, err == nil
}
