package backup

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/splitschema/splitschema/internal/archive"
)

// The outcome of the last check of each backup is kept in
// <backups>/.checks/<id>.json, beside the backup and not in it: the
// backup's own files never change once sealed, and this record is not
// part of what the manifest vouches for. It tells `backup list` when a
// backup was last checked and what was found; it proves nothing by itself
// (prune and restore always check again).

const checksDir = ".checks"

// LastCheck is the record of a backup's last check.
type LastCheck struct {
	At time.Time `json:"at"`
	OK bool      `json:"ok"`
	// What says what was checked.
	What      string            `json:"what"`
	Signature archive.Signature `json:"signature"`
	// Problems are those found, at most a few.
	Problems []string `json:"problems,omitempty"`
}

func checkPath(root, id string) string { return filepath.Join(root, checksDir, id+".json") }

// recordCheck records a check's outcome; failing to is not worth failing
// the check for.
func recordCheck(root string, r *CheckResult) {
	data, err := json.Marshal(lastCheckOf(r, "manifest checksum, signature, size and SHA-256 of every file"))
	if err != nil {
		return
	}
	if err := os.MkdirAll(filepath.Join(root, checksDir), archive.DirMode); err != nil {
		return
	}
	_ = archive.WriteFileSync(checkPath(root, r.ID), data)
}

// readCheck returns the record of backup id's last check, or nil.
func readCheck(root, id string) *LastCheck {
	data, err := os.ReadFile(checkPath(root, id))
	if err != nil {
		return nil
	}
	var lc LastCheck
	if json.Unmarshal(data, &lc) != nil || lc.At.IsZero() {
		return nil
	}
	return &lc
}

// removeCheck forgets a deleted backup's record.
func removeCheck(root, id string) { _ = os.Remove(checkPath(root, id)) }

// lastCheckOf is the record of check r, which checked what.
func lastCheckOf(r *CheckResult, what string) LastCheck {
	lc := LastCheck{At: time.Now().UTC(), OK: r.OK, Signature: r.Signature, What: what}
	for i, p := range r.Problems {
		if i == 5 {
			break
		}
		lc.Problems = append(lc.Problems, p.String())
	}
	return lc
}
