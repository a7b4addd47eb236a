package server

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/config"
)

// TestDataDirectoryAndAuditLogArePrivate: a data directory and an audit
// log that others may read are tightened to 0700 and 0600 at start, with a
// warning; a data directory that another user owns is refused.
func TestDataDirectoryAndAuditLogArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755) // whatever the umask
	cfg := config.DevConfig("127.0.0.1:0", dir)
	if err := os.WriteFile(cfg.AuditLogPath(), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(cfg.AuditLogPath(), 0o644)
	var logs syncBuf
	s, err := Start(cfg, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for path, want := range map[string]os.FileMode{dir: 0o700, cfg.AuditLogPath(): 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", path, got, want)
		}
	}
	for _, warning := range []string{"data directory was open to others", "audit log was readable by others"} {
		if !strings.Contains(logs.String(), warning) {
			t.Errorf("no warning %q in the log:\n%s", warning, logs.String())
		}
	}

	// Another user's directory: only root can make one here.
	if os.Geteuid() != 0 {
		t.Log("not root: the refusal of another user's data directory is not tried")
		return
	}
	theirs := filepath.Join(t.TempDir(), "theirs")
	if err := os.Mkdir(theirs, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	s, err = Start(config.DevConfig("127.0.0.1:0", theirs), Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err == nil {
		s.Close()
		t.Fatal("trent started on a data directory another user owns")
	}
	if !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Fatalf("error %q does not say who owns the directory", err)
	}
}
