package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/server"
)

// auditVerify checks audit log files with the root key of the trent that
// wrote them (from its config file, or dev mode's data directory).
func auditVerify(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: trent audit verify [--config FILE | --data DIR] FILE...

Checks that audit log files, given oldest first (audit.jsonl.2 audit.jsonl.1
audit.jsonl), form one unbroken chain whose checkpoints the root key
authenticates, with the root keys of the configuration (the current one
and those in root_key.previous: each segment of the log names the root key
that wrapped its key). It reports the first record that was changed, removed,
inserted or reordered, and exits 1 if there is one.`)
		fs.PrintDefaults()
	}
	configPath := fs.String("config", "", "the configuration `file` of the trent that wrote the log (for its root key)")
	dataDir := fs.String("data", "", "the data `directory` of a dev-mode trent (default ./"+"trent-data)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no audit log files given")
	}
	cfg, err := loadConfig(*configPath, "", *dataDir)
	if err != nil {
		return err
	}
	ring, err := server.OpenRootKeys(cfg, false)
	if err != nil {
		return err
	}
	defer ring.Close()
	unwrap := func(id string, wrapped, aad []byte) ([]byte, error) {
		if !ring.Has(id) {
			return nil, fmt.Errorf("the configured root keys are %s", strings.Join(ring.IDs(), ", "))
		}
		return ring.Unwrap(id, wrapped, aad)
	}
	report, err := audit.Verify(fs.Args(), unwrap)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, report.Summary())
	if report.Problem != nil {
		return errors.New("the audit log was tampered with or damaged")
	}
	return nil
}
