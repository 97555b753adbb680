package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/crypt"
)

// shipper uploads a backup's files to an object store as the sealer hands
// them over, encrypting each on its own when recipients are configured.
type shipper struct {
	r   *repository
	id  string
	dir string // the local folder pg_dump writes to
}

// ship uploads f (hashed already) to <id>/<path> and returns it as stored.
// It hashes what it reads again: a file changed since it was hashed is an
// error, not a backup that lies.
func (s *shipper) ship(ctx context.Context, f archive.File) (archive.File, error) {
	in, err := os.Open(filepath.Join(s.dir, filepath.FromSlash(f.Path)))
	if err != nil {
		return f, fmt.Errorf("upload %s: %w", f.Path, err)
	}
	defer in.Close()
	plain := newCounter()
	src := io.TeeReader(in, plain)
	name := s.id + "/" + f.Path
	if s.r.recipients == nil {
		if err := s.r.store.Put(ctx, name, src, f.Size); err != nil {
			return f, err
		}
		return f, plain.same(f, "uploaded")
	}
	pr, pw := io.Pipe()
	go func() {
		w, err := crypt.Encrypt(pw, s.r.recipients)
		if err == nil {
			_, err = io.Copy(w, src)
		}
		if err == nil {
			err = w.Close()
		}
		pw.CloseWithError(err)
	}()
	stored := newCounter()
	err = s.r.store.Put(ctx, name, io.TeeReader(pr, stored), -1)
	pr.CloseWithError(io.ErrClosedPipe) // ends the encrypting goroutine if Put gave up early
	if err != nil {
		return f, err
	}
	if err := plain.same(f, "encrypted"); err != nil {
		return f, err
	}
	f.Stored = &archive.Stored{Size: stored.n, SHA256: stored.sum()}
	return f, nil
}

// counter hashes and counts what is written to it.
type counter struct {
	h hash.Hash
	n int64
}

func newCounter() *counter { return &counter{h: sha256.New()} }

func (c *counter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

func (c *counter) sum() string { return hex.EncodeToString(c.h.Sum(nil)) }

// same says whether what went through c is f as hashed.
func (c *counter) same(f archive.File, did string) error {
	if c.n != f.Size || c.sum() != f.SHA256 {
		return fmt.Errorf("%s changed between being hashed and %s (%d bytes, SHA-256 %s; hashed %d bytes, %s): something else writes the backup's spool folder", f.Path, did, c.n, c.sum()[:12], f.Size, f.SHA256[:12])
	}
	return nil
}
