package repo

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/splitschema/splitschema/internal/s3test"
)

func TestMain(m *testing.M) { s3test.Main(m) }

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Location
		wantErr string
	}{
		{in: "/var/backups/shop", want: Location{Dir: "/var/backups/shop"}},
		{in: ".splitschema/backups", want: Location{Dir: ".splitschema/backups"}},
		{in: "s3://my-bucket", want: Location{Bucket: "my-bucket"}},
		{in: "s3://my-bucket/", want: Location{Bucket: "my-bucket"}},
		{in: "s3://my-bucket/shop/prod/", want: Location{Bucket: "my-bucket", Prefix: "shop/prod/"}},
		{in: "s3://key:secret@my-bucket/x", wantErr: "must not hold credentials"},
		{in: "s3://My_Bucket/x", wantErr: "is not allowed"},
		{in: "s3://ab", wantErr: "3 to 63"},
		{in: "s3://my-bucket/a/../b", wantErr: ". or .."},
		{in: "s3://my-bucket/a?region=x", wantErr: "no ?query"},
		{in: "gs://my-bucket/a", wantErr: "only s3://"},
		{in: "", wantErr: "empty"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%q) = %+v, %v; want an error with %q", tt.in, got, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "secret") && strings.Contains(tt.in, "secret@") {
				t.Errorf("Parse(%q): the error repeats the secret: %v", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

// newS3 opens a repository on a fresh bucket of the test server, under a
// prefix, with the server's credentials.
func newS3(t *testing.T, prefix string) (*S3, string) {
	t.Helper()
	srv := s3test.Server(t)
	bucket := s3test.NewBucket(t)
	loc, err := Parse("s3://" + bucket + "/" + prefix)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewS3(loc, S3Options{Endpoint: srv.Endpoint, Region: srv.Region, PathStyle: true, Insecure: true},
		credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""))
	if err != nil {
		t.Fatal(err)
	}
	return s, bucket
}

// Both repositories store, list, read back and delete files the same way,
// large ones (a multipart upload on S3) included.
func TestStores(t *testing.T) {
	s3, _ := newS3(t, "shop/prod")
	stores := map[string]Store{"s3": s3}
	large := make([]byte, 17<<20) // above minio-go's 16 MiB part size: multipart
	rand.Read(large)
	for name, st := range stores {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			if err := st.Check(ctx); err != nil {
				t.Fatalf("Check: %v", err)
			}
			files := map[string][]byte{
				"20261203T1830Z/toc.dat":       []byte("toc"),
				"20261203T1830Z/3001.dat.gz":   large,
				"20261203T1830Z/manifest.json": []byte(`{}`),
				"20261204T1830Z/toc.dat":       []byte("other"),
			}
			for n, b := range files {
				if err := st.Put(ctx, n, bytes.NewReader(b), int64(len(b))); err != nil {
					t.Fatalf("Put %s: %v", n, err)
				}
			}
			got, err := st.List(ctx, "20261203T1830Z/")
			if err != nil {
				t.Fatal(err)
			}
			want := []Object{
				{Name: "20261203T1830Z/3001.dat.gz", Size: int64(len(large))},
				{Name: "20261203T1830Z/manifest.json", Size: 2},
				{Name: "20261203T1830Z/toc.dat", Size: 3},
			}
			if len(got) != len(want) {
				t.Fatalf("List = %+v, want %+v", got, want)
			}
			for i := range want {
				if got[i].Name != want[i].Name || got[i].Size != want[i].Size {
					t.Fatalf("List = %+v, want %+v", got, want)
				}
				if age := time.Since(got[i].Modified); age < -time.Minute || age > time.Minute {
					t.Errorf("%s: modified %s, not about now", got[i].Name, got[i].Modified)
				}
			}
			for n, b := range files {
				r, err := st.Get(ctx, n)
				if err != nil {
					t.Fatalf("Get %s: %v", n, err)
				}
				back, err := io.ReadAll(r)
				r.Close()
				if err != nil || !bytes.Equal(back, b) {
					t.Fatalf("Get %s: %d bytes back (err %v), want the %d put", n, len(back), err, len(b))
				}
			}
			if err := st.Delete(ctx, "20261203T1830Z/toc.dat"); err != nil {
				t.Fatal(err)
			}
			if err := st.Delete(ctx, "20261203T1830Z/toc.dat"); err != nil {
				t.Fatalf("deleting a missing object: %v", err)
			}
			if _, err := st.Get(ctx, "20261203T1830Z/toc.dat"); !errors.Is(err, ErrNotExist) {
				t.Fatalf("Get of a deleted object: %v, want ErrNotExist", err)
			}
			if err := st.Put(ctx, "../escape", strings.NewReader("x"), 1); err == nil {
				t.Fatal("Put accepted a name leaving the repository")
			}
		})
	}
}

// The prefix keeps repositories in one bucket apart.
func TestS3PrefixIsolates(t *testing.T) {
	a, bucket := newS3(t, "a")
	srv := s3test.Server(t)
	loc, _ := Parse("s3://" + bucket + "/b")
	b, err := NewS3(loc, S3Options{Endpoint: srv.Endpoint, Region: srv.Region, PathStyle: true, Insecure: true},
		credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := a.Put(ctx, "x/manifest.json", strings.NewReader("{}"), 2); err != nil {
		t.Fatal(err)
	}
	if got, err := b.List(ctx, ""); err != nil || len(got) != 0 {
		t.Fatalf("repository b lists %+v (err %v); want nothing of a's", got, err)
	}
	if got, err := a.List(ctx, ""); err != nil || len(got) != 1 || got[0].Name != "x/manifest.json" {
		t.Fatalf("repository a lists %+v (err %v)", got, err)
	}
}

// Check refuses, before anything is written, a wrong secret, an unknown
// access key, a missing bucket and missing credentials, and says which.
func TestS3CheckRefuses(t *testing.T) {
	srv := s3test.Server(t)
	bucket := s3test.NewBucket(t)
	open := func(bucket string, creds *credentials.Credentials) *S3 {
		loc, err := Parse("s3://" + bucket + "/p")
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewS3(loc, S3Options{Endpoint: srv.Endpoint, Region: srv.Region, PathStyle: true, Insecure: true}, creds)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ctx := context.Background()
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if err := open(bucket, credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, "")).Check(ctx); err != nil {
		t.Fatalf("the right credentials: %v", err)
	}
	tests := []struct {
		name   string
		s      *S3
		want   string
		secret string
	}{
		{"wrong secret", open(bucket, credentials.NewStaticV4(srv.AccessKey, "not-the-secret", "")), "access denied: the credentials are wrong", "not-the-secret"},
		{"unknown key", open(bucket, credentials.NewStaticV4("nobody", "x-secret-x", "")), "access denied: the credentials are wrong", "x-secret-x"},
		{"missing bucket", open("no-such-bucket-here", credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, "")), `bucket "no-such-bucket-here" does not exist`, srv.SecretKey},
		{"no credentials", open(bucket, credentials.New(&credentials.EnvAWS{})), "no credentials", ""},
	}
	for _, tt := range tests {
		err := tt.s.Check(ctx)
		if err == nil {
			t.Errorf("%s: Check passed", tt.name)
			continue
		}
		t.Logf("%s: %v", tt.name, err)
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v; want it to say %q", tt.name, err, tt.want)
		}
		if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
			t.Errorf("%s: the error shows the secret: %v", tt.name, err)
		}
	}
}

// Credentials come from the environment, else the shared credentials file
// and its profile.
func TestCredentialsChain(t *testing.T) {
	srv := s3test.Server(t)
	bucket := s3test.NewBucket(t)
	loc, _ := Parse("s3://" + bucket)
	opts := S3Options{Endpoint: srv.Endpoint, Region: srv.Region, PathStyle: true, Insecure: true}
	ctx := context.Background()

	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	s, _ := NewS3(loc, opts, Credentials())
	if err := s.Check(ctx); err != nil {
		t.Fatalf("from the environment: %v", err)
	}

	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	file := filepath.Join(t.TempDir(), "credentials")
	ini := "[default]\naws_access_key_id = nobody\naws_secret_access_key = wrong\n\n[backup]\naws_access_key_id = " +
		srv.AccessKey + "\naws_secret_access_key = " + srv.SecretKey + "\n"
	if err := os.WriteFile(file, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", file)
	t.Setenv("AWS_PROFILE", "backup")
	s, _ = NewS3(loc, opts, Credentials())
	if err := s.Check(ctx); err != nil {
		t.Fatalf("from the shared file's profile backup: %v", err)
	}
	t.Setenv("AWS_PROFILE", "default")
	s, _ = NewS3(loc, opts, Credentials())
	if err := s.Check(ctx); err == nil {
		t.Fatal("the default profile's wrong key passed: the profile is not honoured")
	}
}
