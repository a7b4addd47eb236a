// Command trent is a key management service that speaks the AWS KMS API.
//
//	trent serve [--config FILE] [--listen ADDR] [--data DIR]
//
// Without --config, trent runs in dev mode: loopback only, one account, the
// access key "test" with secret "test". See docs/configuration.md.
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/trent-kms/trent/internal/config"
	"github.com/trent-kms/trent/internal/server"
)

const usage = `trent is a key management service that speaks the AWS KMS API.

Usage:
  trent serve [--config FILE] [--listen ADDR] [--data DIR] [--cpuprofile FILE]
  trent encrypt --key-id KEY... -i INPUT -o OUTPUT [--context k=v]...
  trent decrypt --key-id KEY... -i INPUT -o OUTPUT [--context k=v]...

Without --config trent runs in dev mode. Run "trent serve -h" (or encrypt -h)
for the flags.
`

func main() {
	if len(os.Args) >= 2 && (os.Args[1] == "encrypt" || os.Args[1] == "decrypt") {
		os.Exit(runEnvelope(os.Args[1], os.Args[2:]))
	}
	if len(os.Args) < 2 || os.Args[1] != "serve" {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err := serve(os.Args[2:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "trent:", err)
		os.Exit(1)
	}
}

func serve(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	configPath := fs.String("config", "", "configuration `file` (JSON); without it, dev mode")
	listen := fs.String("listen", "", "`host:port` to listen on (overrides the config file; dev default "+config.DevListen+")")
	dataDir := fs.String("data", "", "data `directory` (overrides the config file; dev default ./"+config.DevDataDir+")")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (pprof) to `file` until trent stops; for performance work")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	var cfg *config.Config
	if *configPath == "" {
		cfg = config.DevConfig(*listen, *dataDir)
	} else {
		var err error
		if cfg, err = config.Load(*configPath); err != nil {
			return err
		}
		if *listen != "" {
			cfg.Listen = *listen
		}
		if *dataDir != "" {
			cfg.DataDir = *dataDir
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	srv, err := server.Start(cfg, server.Options{Logger: logger})
	if err != nil {
		return err
	}
	if cfg.Dev {
		fmt.Fprintf(stdout, `trent is running in DEV MODE. Do not use it for anything that matters:
the credentials below are public and the root key sits next to the data.

  endpoint:          %s
  account:           %s
  access key id:     %s
  secret access key: %s
  data directory:    %s

Try: AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=us-east-1 \
       aws kms create-key --endpoint-url %s
`, srv.URL(), config.DevAccount, config.DevAccessKey, config.DevSecret, cfg.DataDir,
			config.DevAccessKey, config.DevSecret, srv.URL())
	} else {
		fmt.Fprintf(stdout, "trent is serving on %s\n", srv.URL())
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	logger.Info("shutting down")
	return srv.Close()
}
