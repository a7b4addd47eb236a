package esdkinterop

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	mpltypes "github.com/aws/aws-cryptographic-material-providers-library/releases/go/mpl/awscryptographymaterialproviderssmithygeneratedtypes"

	"github.com/trent-kms/trent/envelope/internal/trenttest"
)

// buildTrent builds the trent command for the CLI interop tests.
func buildTrent(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "trent")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/trent")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building trent: %v\n%s", err, out)
	}
	return bin
}

func runTrent(t *testing.T, bin, endpoint string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, append(args, "--endpoint-url", endpoint)...)
	home := t.TempDir()
	cmd.Env = []string{"HOME=" + home, "AWS_ACCESS_KEY_ID=" + trenttest.AccessKey, "AWS_SECRET_ACCESS_KEY=" + trenttest.SecretKey,
		"AWS_REGION=" + trenttest.Region, "AWS_CONFIG_FILE=" + filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
		"AWS_EC2_METADATA_DISABLED=true"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("trent %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestCLIWithOfficialSDK: files "trent encrypt" writes decrypt with the
// official SDK, and files the official SDK writes decrypt with "trent
// decrypt", for each suite, with several keys and with a discovery filter.
func TestCLIWithOfficialSDK(t *testing.T) {
	bin := buildTrent(t)
	url, c := trenttest.Start(t)
	k1, k2, k3 := trenttest.CreateKey(t, c), trenttest.CreateKey(t, c), trenttest.CreateKey(t, c)
	o := newOfficial(t, c)
	dir := t.TempDir()
	ec := map[string]string{"file": "backup.tar", "host": "db1"}
	for _, suite := range suites {
		alg := fmt.Sprintf("0x%04X", suite.ID)
		pt := randBytes(2<<20 + 999)
		plain := filepath.Join(dir, "plain")
		os.WriteFile(plain, pt, 0o600)

		// trent encrypt -> official decrypt.
		enc := filepath.Join(dir, "by-trent.enc")
		runTrent(t, bin, url, "encrypt", "--key-id", k1, "--key-id", k2, "--key-id", k3, "--algorithm", alg,
			"--context", "file=backup.tar", "--context", "host=db1", "-i", plain, "-o", enc)
		msg, _ := os.ReadFile(enc)
		for i, kr := range []mpltypes.IKeyring{o.keyring(k2), o.keyring(k1, k3), o.discovery(trenttest.Account)} {
			got, err := o.decrypt(msg, ec, kr)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("%s: official decrypt of trent's file with keyring %d: %v", alg, i, err)
			}
		}

		// official encrypt -> trent decrypt.
		theirs := filepath.Join(dir, "by-official.enc")
		os.WriteFile(theirs, o.encrypt(pt, suite, 4096, ec, o.keyring(k1, k2, k3)), 0o600)
		out := filepath.Join(dir, "out")
		for _, keyArgs := range [][]string{{"--key-id", k3}, {"--discovery", "--discovery-account", trenttest.Account}} {
			args := append([]string{"decrypt", "-i", theirs, "-o", out, "--context", "host=db1"}, keyArgs...)
			runTrent(t, bin, url, args...)
			got, _ := os.ReadFile(out)
			if !bytes.Equal(got, pt) {
				t.Fatalf("%s %v: trent decrypt of the official file differs", alg, keyArgs)
			}
			os.Remove(out)
		}
	}
}
