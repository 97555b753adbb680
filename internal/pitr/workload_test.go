package pitr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// marker is one transaction of the marker writer: when it began and when
// its commit was acknowledged.
type marker struct {
	n          int
	begin, ack time.Time
}

// TestRestoreToTimeDuringWorkload restores to a time T while every service
// writes, and a marker writer commits one customer at a time: the restored
// database has 0 broken links, every marker acknowledged before T, and none
// begun after T. The workload ran on both sides of T, so each check could
// fail.
func TestRestoreToTimeDuringWorkload(t *testing.T) {
	e := env(t)
	stop := e.shop.Writers(t, 200)
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var markers []marker
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn, err := pgx.Connect(context.Background(), e.shop.URL)
		if err != nil {
			t.Errorf("marker writer: %v", err)
			return
		}
		defer conn.Close(context.Background())
		for n := 1; ctx.Err() == nil; n++ {
			m := marker{n: n, begin: time.Now()}
			if _, err := conn.Exec(context.Background(), "INSERT INTO customers.customer (email, name) VALUES ($1, 'marker')", fmt.Sprintf("marker-%d@example.com", n)); err != nil {
				t.Errorf("marker %d: %v", n, err)
				return
			}
			m.ack = time.Now()
			mu.Lock()
			markers = append(markers, m)
			mu.Unlock()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	time.Sleep(1500 * time.Millisecond)
	at := time.Now()
	time.Sleep(1500 * time.Millisecond)
	cancel()
	wg.Wait()
	res := stop()
	if res.Committed() == 0 {
		t.Fatalf("the workload committed nothing: %s", res)
	}
	var before, after int
	for _, m := range markers {
		if m.ack.Before(at) {
			before++
		}
		if m.begin.After(at) {
			after++
		}
	}
	if before == 0 || after == 0 {
		t.Fatalf("markers before T: %d, begun after T: %d; want some of each", before, after)
	}

	r, err := e.restore(t, Target{Time: at})
	if err != nil {
		t.Fatalf("restore to %s: %v", at.Format(time.RFC3339Nano), err)
	}
	if !r.OK {
		t.Fatalf("restore not verified: %s", r.Human())
	}
	if len(r.Verify.Links) == 0 {
		t.Fatalf("verify checked no link")
	}
	for _, l := range r.Verify.Links {
		if l.Broken != 0 {
			t.Errorf("link %s -> %s: %d broken rows, want 0", l.From, l.To, l.Broken)
		}
	}
	srv := restoredServer(t, e, r)
	conn, err := srv.Connect(context.Background(), srv.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	present := map[string]bool{}
	rows, err := conn.Query(context.Background(), "SELECT email FROM customers.customer WHERE name = 'marker'")
	if err != nil {
		t.Fatal(err)
	}
	emails, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, em := range emails {
		present[em] = true
	}
	for _, m := range markers {
		email := fmt.Sprintf("marker-%d@example.com", m.n)
		switch {
		case m.ack.Before(at) && !present[email]:
			t.Errorf("marker %d committed before T (ack %s) is missing", m.n, m.ack.Format(time.RFC3339Nano))
		case m.begin.After(at) && present[email]:
			t.Errorf("marker %d begun after T (%s) is present", m.n, m.begin.Format(time.RFC3339Nano))
		}
	}
	t.Logf("T = %s: %d markers before, %d after, %d restored; workload %s", at.Format(time.RFC3339Nano), before, after, len(emails), res)
}

// TestRestoreRefusals: a target before the first backup, a folder that
// exists and a time in the future are refused, and nothing is made.
func TestRestoreRefusals(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	dir := e.restoreDir(t)
	_, err := e.setup.Restore(ctx, RestoreOptions{Target: Target{Time: time.Now().Add(-24 * time.Hour)}, Dir: dir})
	if !errors.Is(err, ErrBeforeFirstBackup) {
		t.Errorf("restore to yesterday: err = %v, want ErrBeforeFirstBackup", err)
	}
	if _, serr := os.Stat(dir); serr == nil {
		t.Errorf("refused restore left %s behind", dir)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	_, err = e.setup.Restore(ctx, RestoreOptions{Target: Target{Latest: true}, Dir: dir})
	if err == nil {
		t.Fatalf("restore into an existing folder succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused restore wrote into %s: %v", dir, entries)
	}
	if _, err := e.setup.Restore(ctx, RestoreOptions{Target: Target{Time: time.Now().Add(time.Hour)}, Dir: dir + "-future"}); err == nil {
		t.Errorf("restore to a future time succeeded")
	}
	if _, err := e.setup.Restore(ctx, RestoreOptions{Target: Target{Point: "no such point"}, Dir: dir + "-nopoint"}); err == nil {
		t.Errorf("restore to an unknown point succeeded")
	}
}
