package main

import (
	"io"
	"log/slog"

	"github.com/trent-kms/trent/internal/config"
)

// newLogger makes trent's logger as cfg says: JSON lines (the default with
// a config file) or slog's text format (dev mode's default), at the
// configured level, which SIGHUP can change.
func newLogger(cfg *config.Config, w io.Writer) (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	if lvl, err := cfg.Level(); err == nil {
		level.Set(lvl)
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.JSONLogs() {
		return slog.New(slog.NewJSONHandler(w, opts)), level
	}
	return slog.New(slog.NewTextHandler(w, opts)), level
}
