package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3 is a repository in an S3-compatible object store.
type S3 struct {
	client *minio.Client
	bucket string
	prefix string
	desc   string
}

// Credentials returns the credential chain of an object store repository:
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN first, then
// the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, else
// ~/.aws/credentials) and its profile (AWS_PROFILE, else default). Nothing
// comes from the command line.
func Credentials() *credentials.Credentials {
	return credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.FileAWSCredentials{},
	})
}

// NewS3 opens the object store repository at loc with creds (Credentials()
// in production). It does not contact the server: call Check.
func NewS3(loc Location, o S3Options, creds *credentials.Credentials) (*S3, error) {
	if !loc.IsS3() {
		return nil, errors.New("repository: NewS3 needs an s3:// location")
	}
	endpoint := o.Endpoint
	if endpoint == "" {
		endpoint = "s3.amazonaws.com"
	}
	lookup := minio.BucketLookupAuto
	if o.PathStyle {
		lookup = minio.BucketLookupPath
	}
	c, err := minio.New(endpoint, &minio.Options{
		Creds:        creds,
		Secure:       !o.Insecure,
		Region:       o.Region,
		BucketLookup: lookup,
	})
	if err != nil {
		return nil, fmt.Errorf("repository s3://%s/%s at %s: %w", loc.Bucket, loc.Prefix, endpoint, err)
	}
	return &S3{
		client: c,
		bucket: loc.Bucket,
		prefix: loc.Prefix,
		desc:   fmt.Sprintf("s3://%s/%s (%s)", loc.Bucket, loc.Prefix, endpoint),
	}, nil
}

// String names the repository: its address and endpoint.
func (s *S3) String() string { return s.desc }

// Check proves the credentials are accepted and the bucket exists, by
// listing at most one object under the prefix.
func (s *S3) Check(ctx context.Context) error {
	if v, err := s.client.GetCreds(); err != nil || v.AccessKeyID == "" || v.SecretAccessKey == "" {
		return fmt.Errorf("repository %s: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_SHARED_CREDENTIALS_FILE and AWS_PROFILE", s.desc)
	}
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("repository %s: %s", s.desc, explain(err))
	}
	if !ok {
		return fmt.Errorf("repository %s: bucket %q does not exist; create it first (splitschema never creates buckets)", s.desc, s.bucket)
	}
	for o := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, MaxKeys: 1}) {
		if o.Err != nil {
			return fmt.Errorf("repository %s: list: %s", s.desc, explain(o.Err))
		}
		break
	}
	return nil
}

// explain turns the server's refusals into what to do about them.
func explain(err error) string {
	switch minio.ToErrorResponse(err).Code {
	case "InvalidAccessKeyId":
		return "the access key is not known to the server (check AWS_ACCESS_KEY_ID or the shared credentials file's profile): " + err.Error()
	case "SignatureDoesNotMatch":
		return "the secret key is wrong (check AWS_SECRET_ACCESS_KEY or the shared credentials file's profile): " + err.Error()
	case "AccessDenied":
		// A HEAD request (BucketExists) has no error body: a wrong secret
		// or an unknown key shows up as this too.
		return "access denied: the credentials are wrong or may not use this bucket (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or the shared credentials file's profile): " + err.Error()
	}
	return err.Error()
}

// partSize is the size of a multipart upload's parts.
const partSize = 16 << 20

// Put uploads r as one object; the library splits large ones into a
// multipart upload, in parallel, and aborts it on failure, so no partial
// object is left under name.
func (s *S3) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if err := checkName(name); err != nil {
		return err
	}
	_, err := s.client.PutObject(ctx, s.bucket, s.prefix+name, r, size, minio.PutObjectOptions{
		ContentType: "application/octet-stream",
		NumThreads:  4,
		// Parts of a stream of unknown length (an encrypted file) are
		// buffered in memory: bound them, not the library's 5 TiB guess.
		PartSize: partSize,
	})
	if err != nil {
		return fmt.Errorf("repository %s: upload %s: %s", s.desc, name, explain(err))
	}
	return nil
}

// Get opens an object for reading.
func (s *S3) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	o, err := s.client.GetObject(ctx, s.bucket, s.prefix+name, minio.GetObjectOptions{})
	if err == nil {
		// GetObject is lazy: Stat makes the request and shows a missing
		// object now, not at the first Read.
		_, err = o.Stat()
	}
	if err != nil {
		if o != nil {
			o.Close()
		}
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil, fmt.Errorf("repository %s: %s: %w", s.desc, name, ErrNotExist)
		}
		return nil, fmt.Errorf("repository %s: download %s: %s", s.desc, name, explain(err))
	}
	return o, nil
}

// List returns the objects under prefix, in name order.
func (s *S3) List(ctx context.Context, prefix string) ([]Object, error) {
	var out []Object
	for o := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, fmt.Errorf("repository %s: list %s: %s", s.desc, prefix, explain(o.Err))
		}
		out = append(out, Object{Name: strings.TrimPrefix(o.Key, s.prefix), Size: o.Size, Modified: o.LastModified})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Delete removes an object; a missing one is no error.
func (s *S3) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, s.prefix+name, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("repository %s: delete %s: %s", s.desc, name, explain(err))
	}
	return nil
}
