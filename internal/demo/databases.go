package demo

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/pgsql"
	"github.com/splitschema/splitschema/internal/target"
)

// marker is the comment that tells a database the demo made from any
// other: the demo drops only databases that carry it.
const marker = "made by splitschema demo; safe to drop"

// clearDatabase drops database db when an earlier demo run left it, and
// refuses to touch a database of that name that the demo did not make.
func clearDatabase(ctx context.Context, admin *pgx.Conn, db string) error {
	var exists bool
	var comment *string
	err := admin.QueryRow(ctx, `SELECT true, shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1`, db).Scan(&exists, &comment)
	if err == pgx.ErrNoRows {
		return nil
	}
	if err != nil {
		return fmt.Errorf("demo: look for database %s: %w", db, err)
	}
	if comment == nil || *comment != marker {
		return fmt.Errorf("demo: database %s exists and was not made by the demo; the demo will not drop it: "+
			"drop or rename it yourself, or run the demo on another server (--database-url)", db)
	}
	return dropDatabase(ctx, admin, db)
}

func dropDatabase(ctx context.Context, admin *pgx.Conn, db string) error {
	v, err := pgsql.ServerVersion(ctx, admin)
	if err != nil {
		return fmt.Errorf("demo: drop database %s: %w", db, err)
	}
	if _, err := admin.Exec(ctx, pgsql.DropDatabase(db, v.Major())); err != nil {
		return fmt.Errorf("demo: drop database %s: %w", db, err)
	}
	return nil
}

// markDatabase gives db the demo's marker.
func markDatabase(ctx context.Context, admin *pgx.Conn, db string) error {
	_, err := admin.Exec(ctx, "COMMENT ON DATABASE "+pgx.Identifier{db}.Sanitize()+" IS '"+marker+"'") // marker holds no quote
	if err != nil {
		return fmt.Errorf("demo: mark database %s: %w", db, err)
	}
	return nil
}

// createDatabase makes an empty database owned by the admin, marked.
func createDatabase(ctx context.Context, admin *pgx.Conn, db string) error {
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()); err != nil {
		return fmt.Errorf("demo: create database %s: %w", db, err)
	}
	return markDatabase(ctx, admin, db)
}

// on returns srv's settings for database db.
func on(srv *target.Server, db string) *target.Server {
	s := *srv
	s.Database = db
	return &s
}

// adminConn connects to the server's maintenance database.
func adminConn(ctx context.Context, srv *target.Server) (*pgx.Conn, error) {
	return srv.Connect(ctx, pgsql.MaintenanceDB)
}
