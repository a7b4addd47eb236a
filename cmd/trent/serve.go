package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/trent-kms/trent/internal/config"
	"github.com/trent-kms/trent/internal/server"
)

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
	cfg, err := loadConfig(*configPath, *listen, *dataDir)
	if err != nil {
		return err
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
	logger, level := newLogger(cfg, os.Stderr)
	// No core dumps: one would write the key material cached in memory to
	// disk. (Best effort: a hard limit set by the system may forbid it.)
	if err := syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{}); err != nil {
		logger.Warn("could not disable core dumps", "err", err)
	}
	// Signals are caught before the server starts: a SIGTERM that arrives
	// as soon as it serves must still stop it cleanly.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	srv, err := server.Start(cfg, server.Options{Logger: logger, LogLevel: level})
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
	if addr := srv.MetricsAddr(); addr != nil {
		fmt.Fprintf(stdout, "metrics, health and readiness on http://%s (/metrics, /healthz, /readyz)\n", addr)
	}
	for sig := range signals {
		if sig != syscall.SIGHUP {
			break
		}
		var next *config.Config
		if *configPath != "" {
			if next, err = loadConfig(*configPath, *listen, *dataDir); err != nil {
				logger.Error("SIGHUP: the configuration file is refused; the old configuration stays", "err", err)
				next = nil
			}
		}
		if err := srv.Reload(next); err != nil {
			logger.Error("SIGHUP: reload failed", "err", err)
		}
	}
	// Drain first (readyz fails while requests are still served), then
	// stop accepting and let requests in flight finish. A second signal
	// cuts the drain short.
	logger.Info("shutting down")
	abort := make(chan struct{})
	go func() { <-signals; close(abort) }()
	srv.Drain(abort)
	return srv.Close()
}

// loadConfig reads the config file, or makes dev mode's configuration
// without one; listen and dataDir override what it says.
func loadConfig(path, listen, dataDir string) (*config.Config, error) {
	if path == "" {
		return config.DevConfig(listen, dataDir), nil
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if listen != "" {
		cfg.Listen = listen
	}
	if dataDir != "" {
		cfg.DataDir = dataDir
	}
	return cfg, nil
}
