package pgtest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestServer(t *testing.T) {
	s := Start(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	conn, err := pgx.Connect(ctx, s.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var super bool
	err = conn.QueryRow(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, s.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var version, listen, sockets string
	err = admin.QueryRow(ctx, `SELECT current_setting('server_version_num'), current_setting('listen_addresses'),
		current_setting('unix_socket_directories')`).Scan(&version, &listen, &sockets)
	if err != nil {
		t.Fatal(err)
	}
	if version < "150000" || version >= "160000" {
		t.Errorf("server version %s, want 15", version)
	}
	if listen != "127.0.0.1" || sockets != "" {
		t.Errorf("listen_addresses %q, unix_socket_directories %q: want loopback only, no socket", listen, sockets)
	}
	if super {
		t.Error("NewDatabase's role is a superuser")
	}
	// The role owns its database: it can create tables in it.
	if _, err := conn.Exec(ctx, "CREATE TABLE t (x int)"); err != nil {
		t.Fatal(err)
	}

	// A wrong password is refused, even on loopback.
	bad := s.AdminDSN() + "&password=wrong"
	if c, err := pgx.Connect(ctx, bad); err == nil {
		c.Close(ctx)
		t.Error("connected with a wrong password")
	}

	dir := s.dir
	conn.Close(ctx)
	admin.Close(ctx)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("server directory still there after Stop: %v", err)
	}
}
