package svcrestore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/backup"
	"github.com/splitschema/splitschema/internal/backup/backuptest"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mustBackup(t *testing.T, shop *backuptest.Shop) *backup.Result {
	t.Helper()
	res, err := backup.Run(testCtx(t), shop.Project, shop.Server, backup.Options{Jobs: 2})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	return res
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(testCtx(t), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// digest returns, for every table of the schemas, its row count and an md5
// of its rows in text form: equal digests, equal rows.
func digest(t *testing.T, url string, schemas ...string) map[string]string {
	t.Helper()
	ctx := testCtx(t)
	conn := connect(t, url)
	rows, err := conn.Query(ctx, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = ANY($1) AND c.relkind = 'r' ORDER BY 1`, schemas)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, tb := range tables {
		var n int64
		var sum *string
		if err := conn.QueryRow(ctx, "SELECT count(*), md5(string_agg(x::text, E'\\n' ORDER BY x::text)) FROM "+tb+" x").Scan(&n, &sum); err != nil {
			t.Fatal(err)
		}
		s := ""
		if sum != nil {
			s = *sum
		}
		out[tb] = fmt.Sprintf("%d rows %s", n, s)
	}
	return out
}

var shopSchemas = []string{"customers", "catalog", "orders", "payments", "shipping"}

func sameDigest(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] {
			t.Errorf("%s: %s = %s, want %s", what, k, got[k], want[k])
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d tables, want %d", what, len(got), len(want))
	}
}

func queryInt(t *testing.T, url, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := connect(t, url).QueryRow(testCtx(t), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// stagingLeft counts the staging tables that exist in any session.
func stagingLeft(t *testing.T, url string) int64 {
	t.Helper()
	return queryInt(t, url, "SELECT count(*) FROM pg_class WHERE relname LIKE 'splitschema\\_stage\\_%' AND relpersistence = 't'")
}

// waitNoRestoreSession waits until no session of a service restore is left.
func waitNoRestoreSession(t *testing.T, url string) {
	t.Helper()
	for range 500 {
		if queryInt(t, url, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", ApplicationName) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the restore's session is still there after 10s")
}
