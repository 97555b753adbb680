package s3test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

func TestMain(m *testing.M) { Main(m) }

// The server stores and returns an object in a bucket of the test's own,
// and refuses a client whose secret is wrong: credentials are enforced, so
// tests of wrong credentials elsewhere test something.
func TestServerStoresAndChecksCredentials(t *testing.T) {
	s := Server(t)
	bucket := NewBucket(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := s.Client(t)
	body := bytes.Repeat([]byte("splitschema "), 1000)
	if _, err := c.PutObject(ctx, bucket, "a/b.dat", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("put: %v", err)
	}
	o, err := c.GetObject(ctx, bucket, "a/b.dat", minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	got, err := io.ReadAll(o)
	o.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("read back %d bytes (err %v), want the %d put", len(got), err, len(body))
	}

	bad, err := s.client(s.AccessKey, "wrong-secret")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.BucketExists(ctx, bucket); err == nil {
		t.Fatal("a wrong secret was accepted: the server does not check credentials")
	} else {
		t.Logf("wrong secret refused: %v", err)
	}
	if _, err := bad.GetObject(ctx, bucket, "a/b.dat", minio.GetObjectOptions{}); err == nil {
		// GetObject is lazy: the error shows on Stat.
		if o, _ := bad.GetObject(ctx, bucket, "a/b.dat", minio.GetObjectOptions{}); o != nil {
			if _, err := o.Stat(); err == nil {
				t.Fatal("a wrong secret read an object")
			}
		}
	}
}
