package svcrestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/splitschema/splitschema/internal/backup"
)

// dataEntries returns the dump ids of the archive's TABLE DATA entries of
// schemas, from `pg_restore --list` output.
func dataEntries(toc string, schemas []string) []int {
	var ids []int
	for _, e := range backup.ParseTOC(toc) {
		if e.Desc == "TABLE DATA" && slices.Contains(schemas, e.Namespace) {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// streamInto runs pg_restore with args, its script going straight into
// the loader: nothing is written to disk.
func (r *run) streamInto(ctx context.Context, args []string, l *loader) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := r.backup.PgRestore(ctx, args, nil, pw)
		if err != nil {
			pw.CloseWithError(err)
		} else {
			pw.Close()
		}
		done <- err
	}()
	lerr := l.load(ctx, pr)
	if lerr != nil {
		// Stop pg_restore: nothing reads its output any more.
		cancel()
		pr.CloseWithError(lerr)
	}
	perr := <-done
	switch {
	case lerr != nil && perr != nil && !errors.Is(perr, context.Canceled) && !errors.Is(lerr, perr):
		return fmt.Errorf("%w (pg_restore: %v)", lerr, perr)
	case lerr != nil:
		return lerr
	case perr != nil:
		return perr
	}
	return nil
}
