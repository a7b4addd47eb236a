// Command pgserver runs a throw-away PostgreSQL 15 for bench/run.sh
// (BENCH_STORE=postgres): durable (fsync and synchronous commit on, as in
// production), listening on 127.0.0.1 only, with its data in a temporary
// directory that is removed when it stops. It prints "dsn: <DSN>" on
// standard output once the server accepts connections, then runs until
// SIGTERM or SIGINT.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/trent-kms/trent/internal/store/postgres/pgtest"
)

func main() {
	srv, err := pgtest.StartServer(pgtest.Options{Durable: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgserver:", err)
		os.Exit(1)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	fmt.Printf("dsn: %s\n", srv.AdminDSN())
	<-stop
	if err := srv.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "pgserver:", err)
		os.Exit(1)
	}
}
