// Package s3test gives tests a real S3-compatible object store: one
// SeaweedFS server (`weed server ... -s3`) per test binary, started on
// loopback ports on first use with an access key and secret configured, and
// a fresh bucket per test.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { s3test.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		srv := s3test.Server(t)
//		bucket := s3test.NewBucket(t)
//		...
//	}
//
// The weed binary is SPLITSCHEMA_WEED, else the one scripts/ensure-seaweedfs.sh
// builds into its cache (`make test` runs the script). Without it Main fails,
// saying how to build it: tests never skip silently, unless
// SPLITSCHEMA_SKIP_S3=1 asks for exactly that (CI does not set it).
package s3test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Version is the SeaweedFS module version scripts/ensure-seaweedfs.sh builds
// by default; keep the two in step.
const Version = "v0.0.0-20261109003541-7506e5f91cd6"

// ServerInfo describes the test binary's object store.
type ServerInfo struct {
	// Endpoint is host:port of the S3 API, plain HTTP on 127.0.0.1.
	Endpoint string
	// AccessKey and SecretKey are the credentials the server accepts.
	AccessKey, SecretKey string
	// Region is the region clients should sign for.
	Region string

	cmd     *exec.Cmd
	bin     string
	args    []string
	dir     string
	done    chan struct{}
	waitErr error
	logPath string
}

// Client returns a minio client of the server with its credentials.
func (s *ServerInfo) Client(tb testing.TB) *minio.Client {
	tb.Helper()
	c, err := s.client(s.AccessKey, s.SecretKey)
	if err != nil {
		tb.Fatalf("s3test: client: %v", err)
	}
	return c
}

func (s *ServerInfo) client(access, secret string) (*minio.Client, error) {
	return minio.New(s.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(access, secret, ""),
		Secure:       false,
		Region:       s.Region,
		BucketLookup: minio.BucketLookupPath,
	})
}

// Stop stops the server now (SIGKILL): for tests of what a client does when
// the store goes away mid-operation. Restart starts it again.
func (s *ServerInfo) Stop() {
	if s.cmd.Process != nil {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-s.done
}

// Log returns the tail of the server's output, for failure messages.
func (s *ServerInfo) Log() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

var (
	mu       sync.Mutex
	inMain   bool
	started  bool
	server   *ServerInfo
	startErr error
	skip     bool

	bucketSeq atomic.Int64
)

// Main runs the tests of a package and stops the server when they are done.
// Call it from TestMain. It fails at once when no weed binary is found; the
// server itself starts when a test first needs it.
func Main(m *testing.M) {
	os.Exit(Around(m.Run))
}

// Around is Main for a TestMain that sets up more: it runs run (m.Run, or
// pgtest.Run(m)) with the object store available and returns its code.
func Around(run func() int) int {
	if os.Getenv("SPLITSCHEMA_SKIP_S3") == "1" {
		skip = true
	} else if _, err := Binary(); err != nil {
		fmt.Fprintf(os.Stderr, "s3test: %v\n", err)
		return 1
	}
	mu.Lock()
	inMain = true
	mu.Unlock()
	code := run()
	shutdown()
	return code
}

// Binary returns the path of the weed binary: SPLITSCHEMA_WEED, else the one
// scripts/ensure-seaweedfs.sh caches, else an error saying how to build it.
func Binary() (string, error) {
	if p := os.Getenv("SPLITSCHEMA_WEED"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("SPLITSCHEMA_WEED=%s: %w", p, err)
		}
		return p, nil
	}
	var caches []string
	if c := os.Getenv("SPLITSCHEMA_SEAWEEDFS_CACHE"); c != "" {
		caches = append(caches, c)
	}
	if os.Geteuid() == 0 {
		caches = append(caches, "/var/cache/splitschema/seaweedfs")
	}
	if c, err := os.UserCacheDir(); err == nil {
		caches = append(caches, filepath.Join(c, "splitschema", "seaweedfs"))
	}
	for _, c := range caches {
		p := filepath.Join(c, Version, "weed")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("no SeaweedFS server binary (weed %s) in %s: run scripts/ensure-seaweedfs.sh (make test does), "+
		"or set SPLITSCHEMA_WEED to a weed binary; SPLITSCHEMA_SKIP_S3=1 skips the object store tests instead",
		Version, strings.Join(caches, " or "))
}

// Server returns the test binary's object store, starting it on first use.
// A test run without s3test.Main in TestMain fails; with SPLITSCHEMA_SKIP_S3=1
// the test is skipped, saying so.
func Server(tb testing.TB) *ServerInfo {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if !inMain {
		tb.Fatal("s3test: call s3test.Main(m) from TestMain")
	}
	if skip {
		tb.Skip("s3test: SPLITSCHEMA_SKIP_S3=1: object store tests skipped")
	}
	if !started {
		started = true
		server, startErr = start()
	}
	if startErr != nil {
		tb.Fatalf("s3test: start SeaweedFS: %v", startErr)
	}
	return server
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func start() (*ServerInfo, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "s3test-")
	if err != nil {
		return nil, err
	}
	s := &ServerInfo{
		AccessKey: "s3test-access",
		SecretKey: "s3test-secret-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		Region:    "us-east-1",
		dir:       dir,
		done:      make(chan struct{}),
		logPath:   filepath.Join(dir, "weed.log"),
	}
	config := map[string]any{"identities": []any{map[string]any{
		"name":        "s3test",
		"credentials": []any{map[string]string{"accessKey": s.AccessKey, "secretKey": s.SecretKey}},
		"actions":     []string{"Admin", "Read", "Write", "List", "Tagging"},
	}}}
	b, _ := json.Marshal(config)
	configPath := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(configPath, b, 0o600); err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return nil, err
	}
	// The ports are free now; another process could take one before weed
	// binds it, which shows up as a start failure naming the port, not as
	// a flaky test.
	p, err := freePorts(8)
	if err != nil {
		return nil, err
	}
	s.Endpoint = fmt.Sprintf("127.0.0.1:%d", p[6])
	s.bin = bin
	s.args = []string{"server",
		"-dir", data, "-ip", "127.0.0.1", "-ip.bind", "127.0.0.1",
		"-master.port", strconv.Itoa(p[0]), "-master.port.grpc", strconv.Itoa(p[1]),
		"-volume.port", strconv.Itoa(p[2]), "-volume.port.grpc", strconv.Itoa(p[3]),
		"-filer.port", strconv.Itoa(p[4]), "-filer.port.grpc", strconv.Itoa(p[5]),
		"-s3", "-s3.port", strconv.Itoa(p[6]), "-s3.port.grpc", strconv.Itoa(p[7]),
		"-s3.port.iceberg", "0", "-s3.config", configPath,
		"-master.volumeSizeLimitMB", "64", "-volume.max", "64",
	}
	if err := s.launch(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// Start starts a server of its own on loopback ports, outside any test
// (the benchmark uses it); Close stops it and removes its data.
func Start() (*ServerInfo, error) { return start() }

// Close stops a server Start started and removes its data.
func (s *ServerInfo) Close() {
	select {
	case <-s.done:
	default:
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			s.Stop()
		}
	}
	os.RemoveAll(s.dir)
}

// MakeBucket creates bucket name.
func (s *ServerInfo) MakeBucket(ctx context.Context, name string) error {
	c, err := s.client(s.AccessKey, s.SecretKey)
	if err != nil {
		return err
	}
	return c.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: s.Region})
}

// launch starts weed with s's arguments and waits until it serves S3.
func (s *ServerInfo) launch() error {
	log, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(s.bin, s.args...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group, so Stop and shutdown reach everything it runs,
	// and Pdeathsig, so it does not outlive a test binary that dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	s.cmd = cmd
	done := make(chan struct{})
	s.done = done
	go func() {
		s.waitErr = cmd.Wait()
		close(done)
	}()
	if err := s.waitReady(3 * time.Minute); err != nil {
		s.Stop()
		return fmt.Errorf("%w; weed's output ends:\n%s", err, s.Log())
	}
	return nil
}

// Restart starts the server again after Stop, on the same ports and data:
// for tests of what is left in the store after it went away.
func (s *ServerInfo) Restart(tb testing.TB) {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	select {
	case <-s.done:
	default:
		tb.Fatal("s3test: Restart of a server that runs: Stop it first")
	}
	if err := s.launch(); err != nil {
		tb.Fatalf("s3test: restart SeaweedFS: %v", err)
	}
}

// waitReady polls until the S3 API creates and lists a bucket with the
// configured credentials, the server exits, or the deadline passes.
func (s *ServerInfo) waitReady(limit time.Duration) error {
	c, err := s.client(s.AccessKey, s.SecretKey)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(limit)
	var last error
	for {
		select {
		case <-s.done:
			return fmt.Errorf("weed server exited before serving S3 (%v)", s.waitErr)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		last = probe(ctx, c)
		cancel()
		if last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("S3 on %s did not answer within %v: %v", s.Endpoint, limit, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// probe writes and reads back one object in a bucket of its own: the S3
// gateway answers before the filer and volume server can store anything.
func probe(ctx context.Context, c *minio.Client) error {
	const bucket = "s3test-ready"
	if ok, err := c.BucketExists(ctx, bucket); err != nil {
		return err
	} else if !ok {
		if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
			return err
		}
	}
	body := []byte("ready")
	if _, err := c.PutObject(ctx, bucket, "probe", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		return err
	}
	o, err := c.GetObject(ctx, bucket, "probe", minio.GetObjectOptions{})
	if err != nil {
		return err
	}
	defer o.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(o); err != nil {
		return err
	}
	if !bytes.Equal(buf.Bytes(), body) {
		return errors.New("probe object read back differently")
	}
	return nil
}

func shutdown() {
	mu.Lock()
	defer mu.Unlock()
	if server != nil {
		server.Close()
	}
}

var notBucket = regexp.MustCompile(`[^a-z0-9]+`)

// NewBucket creates an empty bucket named after the test and returns its
// name. The bucket and everything in it are removed when the test ends.
func NewBucket(tb testing.TB) string {
	tb.Helper()
	s := Server(tb)
	base := strings.Trim(notBucket.ReplaceAllString(strings.ToLower(tb.Name()), "-"), "-")
	suffix := "-" + strconv.FormatInt(bucketSeq.Add(1), 10)
	if max := 63 - len("t-") - len(suffix); len(base) > max {
		base = strings.TrimRight(base[:max], "-")
	}
	name := "t-" + base + suffix
	c := s.Client(tb)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: s.Region}); err != nil {
		tb.Fatalf("s3test: create bucket %s: %v", name, err)
	}
	tb.Cleanup(func() {
		select {
		case <-s.done:
			return // stopped by the test: nothing to clean
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for o := range c.ListObjects(ctx, name, minio.ListObjectsOptions{Recursive: true}) {
			if o.Err != nil {
				tb.Errorf("s3test: list bucket %s: %v", name, o.Err)
				return
			}
			if err := c.RemoveObject(ctx, name, o.Key, minio.RemoveObjectOptions{}); err != nil {
				tb.Errorf("s3test: remove %s/%s: %v", name, o.Key, err)
			}
		}
		if err := c.RemoveBucket(ctx, name); err != nil {
			tb.Errorf("s3test: remove bucket %s: %v", name, err)
		}
	})
	return name
}
