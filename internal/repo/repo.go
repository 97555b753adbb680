// Package repo parses a repository address (a local folder or
// s3://bucket/prefix) and stores a backup's files in an S3-compatible
// object store behind one small interface (backups in a folder are written
// by internal/backup directly). It knows nothing of what the files mean;
// internal/backup decides what is written and when (the manifest last).
package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// Object is one stored file.
type Object struct {
	// Name is the path below the repository's root, with / separators.
	Name string
	// Size is the stored size in bytes.
	Size int64
	// Modified is when it was stored.
	Modified time.Time
}

// Store is a repository of backup files.
type Store interface {
	// Check proves the repository can be reached, with the credentials
	// given, before any work starts: the folder exists, or the bucket
	// exists and may be listed.
	Check(ctx context.Context) error
	// Put stores r under name; size is its length, or -1 if unknown. A
	// failed Put leaves no object under name.
	Put(ctx context.Context, name string, r io.Reader, size int64) error
	// Get opens the object name for reading. A missing object gives an
	// error that errors.Is(err, ErrNotExist).
	Get(ctx context.Context, name string) (io.ReadCloser, error)
	// List returns every object whose name starts with prefix, in name
	// order.
	List(ctx context.Context, prefix string) ([]Object, error)
	// Delete removes the object name; a missing one is no error.
	Delete(ctx context.Context, name string) error
	// String names the repository for messages, without credentials.
	String() string
}

// ErrNotExist is the error Get wraps when the object is missing.
var ErrNotExist = errors.New("no such object")

// S3Options are the settings of an object store repository besides its
// bucket and prefix.
type S3Options struct {
	// Endpoint is host[:port] of the S3 API; empty means AWS S3
	// (s3.amazonaws.com).
	Endpoint string
	// Region to sign for; empty lets the library find the bucket's.
	Region string
	// PathStyle addresses buckets as endpoint/bucket instead of
	// bucket.endpoint, which S3-compatible servers usually need.
	PathStyle bool
	// Insecure uses plain HTTP: only for servers on loopback or a trusted
	// network.
	Insecure bool
}

// Location is a parsed repository address.
type Location struct {
	// Dir is the local folder, when the repository is one.
	Dir string
	// Bucket and Prefix name an object store repository; Prefix is empty
	// or ends in "/".
	Bucket, Prefix string
}

// IsS3 says whether the location names an object store.
func (l Location) IsS3() bool { return l.Bucket != "" }

// Parse reads a repository address: s3://bucket[/prefix] for an object
// store, anything else for a local folder. It refuses addresses with
// credentials, queries or an invalid bucket name, saying why.
func Parse(s string) (Location, error) {
	if !strings.HasPrefix(s, "s3://") {
		if strings.Contains(s, "://") {
			return Location{}, fmt.Errorf("repository %q: only s3:// addresses and local folders are supported", s)
		}
		if s == "" {
			return Location{}, errors.New("repository: empty address")
		}
		return Location{Dir: s}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return Location{}, fmt.Errorf("repository %q: %w", s, err)
	}
	if u.User != nil {
		return Location{}, errors.New("repository: an s3:// address must not hold credentials; use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a shared credentials file")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return Location{}, fmt.Errorf("repository %q: no ?query or #fragment; set endpoint, region and path-style as settings", s)
	}
	if err := validBucket(u.Host); err != nil {
		return Location{}, fmt.Errorf("repository %q: %w", s, err)
	}
	prefix := strings.Trim(u.Path, "/")
	for _, part := range strings.Split(prefix, "/") {
		if part == "." || part == ".." {
			return Location{}, fmt.Errorf("repository %q: the prefix must not hold . or .. parts", s)
		}
	}
	if prefix != "" {
		if strings.Contains(prefix, "//") {
			return Location{}, fmt.Errorf("repository %q: the prefix has an empty part (//)", s)
		}
		prefix += "/"
	}
	return Location{Bucket: u.Host, Prefix: prefix}, nil
}

// validBucket applies S3's bucket naming rules: 3 to 63 characters, lower
// case letters, digits, dots and dashes, starting and ending with a letter
// or digit.
func validBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket name %q must be 3 to 63 characters", b)
	}
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.'
		if !ok {
			return fmt.Errorf("bucket name %q: %q is not allowed (lower case letters, digits, dots and dashes)", b, c)
		}
		if (i == 0 || i == len(b)-1) && (c == '-' || c == '.') {
			return fmt.Errorf("bucket name %q must start and end with a letter or digit", b)
		}
	}
	return nil
}

// checkName refuses object names that could leave the repository's root.
func checkName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") {
		return fmt.Errorf("object name %q is not a relative path", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("object name %q has an empty, . or .. part", name)
		}
	}
	return nil
}
