package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"golang.org/x/term"

	"github.com/trent-kms/trent/envelope"
)

const encryptUsage = `Usage:
  trent encrypt --key-id KEY [--key-id KEY]... -i INPUT -o OUTPUT [flags]
  trent decrypt (--key-id KEY... | --discovery [--discovery-account ID]...) -i INPUT -o OUTPUT [flags]

Encrypts a file of any size into an AWS Encryption SDK message (format
version 2, framed, key-committing) with a data key from AWS KMS or trent,
and decrypts such messages, whichever SDK wrote them. "-" stands for standard
input or output. Credentials, region and profile come from the standard AWS
chain (environment, shared config and credentials files).

On failure nothing is left at OUTPUT: the output goes to a temporary file
that is renamed only once the whole message has been verified. Writing
plaintext to standard output ("-o -") cannot be taken back: there, a
non-zero exit status means the output must be discarded.

Flags:
`

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// envelopeFlags are the flags encrypt and decrypt share.
type envelopeFlags struct {
	fs          *flag.FlagSet
	endpoint    string
	region      string
	profile     string
	keyIDs      multiFlag
	contextArgs multiFlag
	input       string
	output      string
	quiet       bool
	maxEDKs     int
}

func newEnvelopeFlags(name string, stderr io.Writer) *envelopeFlags {
	f := &envelopeFlags{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	fs := f.fs
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, encryptUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.endpoint, "endpoint-url", "", "KMS endpoint `URL` (default: AWS's, or AWS_ENDPOINT_URL)")
	fs.StringVar(&f.region, "region", "", "AWS `region` (default: from the environment or shared config)")
	fs.StringVar(&f.profile, "profile", "", "shared config `profile`")
	fs.Var(&f.keyIDs, "key-id", "KMS key: key ID, key ARN, alias name or alias ARN (repeatable; to encrypt, the first generates the data key)")
	fs.Var(&f.contextArgs, "context", "encryption context pair `key=value` (repeatable; to decrypt, each must be in the message)")
	for _, n := range []string{"i", "input"} {
		fs.StringVar(&f.input, n, "", "input `file`, or - for standard input")
	}
	for _, n := range []string{"o", "output"} {
		fs.StringVar(&f.output, n, "", "output `file`, or - for standard output")
	}
	fs.BoolVar(&f.quiet, "quiet", false, "no progress bar even on a terminal")
	fs.IntVar(&f.maxEDKs, "max-encrypted-data-keys", 0, "refuse more encrypted data keys than `n` (0: no limit)")
	return f
}

func (f *envelopeFlags) parse(args []string) error {
	if err := f.fs.Parse(args); err != nil {
		return err
	}
	if f.fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", f.fs.Args())
	}
	if f.input == "" || f.output == "" {
		return errors.New("-i/--input and -o/--output are required (- for standard input or output)")
	}
	return nil
}

func (f *envelopeFlags) context() (map[string]string, error) {
	c := map[string]string{}
	for _, kv := range f.contextArgs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--context %q: want key=value", kv)
		}
		if old, dup := c[k]; dup && old != v {
			return nil, fmt.Errorf("--context: key %q given twice", k)
		}
		c[k] = v
	}
	return c, nil
}

// kmsClient builds an AWS SDK KMS client from the standard chain and the flags.
func (f *envelopeFlags) kmsClient(ctx context.Context) (*kms.Client, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if f.region != "" {
		opts = append(opts, awsconfig.WithRegion(f.region))
	}
	if f.profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(f.profile))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region: set --region, AWS_REGION or a region in the shared config")
	}
	return kms.NewFromConfig(cfg, func(o *kms.Options) {
		if f.endpoint != "" {
			o.BaseEndpoint = aws.String(f.endpoint)
		}
	}), nil
}

func encryptCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	f := newEnvelopeFlags("encrypt", stderr)
	frameSize := f.fs.Int("frame-size", envelope.DefaultFrameLength, "plaintext `bytes` per frame")
	algorithm := f.fs.String("algorithm", "committing-signed", "algorithm suite: committing-signed (ECDSA P-384, the default), committing (unsigned), or a suite name or ID")
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.keyIDs) == 0 {
		return errors.New("encrypt needs at least one --key-id")
	}
	suite, ok := envelope.SuiteByName(*algorithm)
	if !ok || !suite.Committing {
		return fmt.Errorf("--algorithm %q: trent writes committing-signed (0x0578) or committing (0x0478)", *algorithm)
	}
	ec, err := f.context()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	client, err := f.kmsClient(ctx)
	if err != nil {
		return err
	}
	in, size, err := openInput(f.input, stdin)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := createOutput(f.output, stdout)
	if err != nil {
		return err
	}
	defer out.abort()
	e, err := envelope.NewEncryptor(ctx, out, envelope.EncryptConfig{
		Keyring:              &envelope.KMSKeyring{Client: client, Generator: f.keyIDs[0], KeyIDs: f.keyIDs[1:]},
		Suite:                suite,
		Context:              ec,
		FrameLength:          *frameSize,
		MaxEncryptedDataKeys: f.maxEDKs,
	})
	if err != nil {
		return err
	}
	prog := startProgress(stderr, f.quiet, "encrypting", size)
	_, err = e.ReadFrom(prog.reader(ctxReader{ctx, in}))
	if cerr := e.Close(); err == nil {
		err = cerr
	}
	prog.stop(err == nil)
	if err != nil {
		return err
	}
	return out.commit()
}

func decryptCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	f := newEnvelopeFlags("decrypt", stderr)
	discovery := f.fs.Bool("discovery", false, "decrypt with any KMS key the message names (limit it with --discovery-account)")
	var accounts multiFlag
	f.fs.Var(&accounts, "discovery-account", "with --discovery, only keys of this AWS account `id` (repeatable)")
	legacy := f.fs.Bool("allow-legacy", false, "also decrypt messages without key commitment (format version 1)")
	refuseSigned := f.fs.Bool("refuse-signed", false, "refuse signed messages instead of streaming plaintext before the signature is verified")
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.keyIDs) == 0 && !*discovery {
		return errors.New("decrypt needs --key-id, or --discovery to use whatever key the message names")
	}
	if len(f.keyIDs) > 0 && *discovery {
		return errors.New("--key-id and --discovery do not go together")
	}
	if len(accounts) > 0 && !*discovery {
		return errors.New("--discovery-account needs --discovery")
	}
	ec, err := f.context()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	client, err := f.kmsClient(ctx)
	if err != nil {
		return err
	}
	kr := &envelope.KMSKeyring{Client: client}
	if *discovery {
		kr.Discovery = true
		if len(accounts) > 0 {
			kr.Filter = &envelope.DiscoveryFilter{AccountIDs: accounts}
		}
	} else {
		// The message names keys by ARN: resolve what was given to ARNs
		// (a key ARN is taken as it is, needing no DescribeKey permission).
		for _, id := range f.keyIDs {
			if isKeyARN(id) {
				kr.KeyIDs = append(kr.KeyIDs, id)
				continue
			}
			d, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
			if err != nil {
				return fmt.Errorf("resolving --key-id %s: %w", id, err)
			}
			kr.KeyIDs = append(kr.KeyIDs, aws.ToString(d.KeyMetadata.Arn))
		}
	}
	policy := envelope.RequireEncryptRequireDecrypt
	if *legacy {
		policy = envelope.RequireEncryptAllowDecrypt
	}
	in, size, err := openInput(f.input, stdin)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := createOutput(f.output, stdout)
	if err != nil {
		return err
	}
	defer out.abort()
	prog := startProgress(stderr, f.quiet, "decrypting", size)
	d, err := envelope.NewDecryptor(ctx, prog.reader(ctxReader{ctx, in}), envelope.DecryptConfig{
		Keyring: kr, Context: ec, CommitmentPolicy: policy,
		MaxEncryptedDataKeys: f.maxEDKs, RefuseSigned: *refuseSigned,
	})
	if err != nil {
		prog.stop(false)
		return err
	}
	defer d.Close()
	_, err = d.WriteTo(out)
	prog.stop(err == nil)
	if err != nil {
		return err
	}
	return out.commit()
}

// openInput opens a file or standard input and returns its size if known.
func openInput(name string, stdin io.Reader) (io.ReadCloser, int64, error) {
	if name == "-" {
		return io.NopCloser(stdin), -1, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	return f, size, nil
}

// output is standard output, or a temporary file renamed into place by commit.
type output struct {
	w         io.Writer
	tmp       *os.File
	special   *os.File // a non-regular file written directly
	final     string
	committed bool
}

func createOutput(name string, stdout io.Writer) (*output, error) {
	if name == "-" {
		return &output{w: stdout}, nil
	}
	st, err := os.Stat(name)
	if err == nil && st.IsDir() {
		return nil, fmt.Errorf("output %s is a directory", name)
	}
	if err == nil && !st.Mode().IsRegular() {
		// A device, pipe or socket (/dev/null, a named pipe): written to as
		// it is, like standard output. Renaming a file over it would
		// replace the device with a regular file.
		f, err := os.OpenFile(name, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		return &output{w: f, special: f}, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".trent-*")
	if err != nil {
		return nil, err
	}
	return &output{w: tmp, tmp: tmp, final: name}, nil
}

func (o *output) Write(p []byte) (int, error) { return o.w.Write(p) }

func (o *output) commit() error {
	if o.special != nil {
		return o.special.Close()
	}
	if o.tmp == nil {
		return nil
	}
	if err := o.tmp.Sync(); err != nil {
		return err
	}
	if err := o.tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(o.tmp.Name(), o.final); err != nil {
		return err
	}
	o.committed = true
	return nil
}

// abort removes the temporary file unless it was committed.
func (o *output) abort() {
	if o.special != nil {
		o.special.Close()
	}
	if o.tmp != nil && !o.committed {
		o.tmp.Close()
		os.Remove(o.tmp.Name())
	}
}

// ctxReader stops reading once ctx is cancelled (an interrupt).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, fmt.Errorf("interrupted: %w", err)
	}
	return c.r.Read(p)
}

// progress draws a progress bar on a terminal; elsewhere it does nothing.
type progress struct {
	w     io.Writer
	label string
	size  int64
	start time.Time
	done  chan struct{}
	ended chan struct{}
	count countReader
}

type countReader struct {
	r io.Reader
	n *int64Counter
}

type int64Counter struct{ v atomic.Int64 }

func startProgress(w io.Writer, quiet bool, label string, size int64) *progress {
	p := &progress{w: w, label: label, size: size, start: time.Now()}
	f, ok := w.(*os.File)
	if quiet || !ok || !term.IsTerminal(int(f.Fd())) {
		return p
	}
	p.done, p.ended = make(chan struct{}), make(chan struct{})
	p.count.n = &int64Counter{}
	go func() {
		defer close(p.ended)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				p.draw(false)
			}
		}
	}()
	return p
}

func (p *progress) reader(r io.Reader) io.Reader {
	if p.done == nil {
		return r
	}
	p.count.r = r
	return &p.count
}

func (c *countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.v.Add(int64(n))
	return n, err
}

func (p *progress) draw(final bool) {
	n := p.count.n.v.Load()
	secs := time.Since(p.start).Seconds()
	rate := ""
	if secs > 0 {
		rate = fmt.Sprintf("  %s/s", humanBytes(int64(float64(n)/secs)))
	}
	line := fmt.Sprintf("%s %s%s", p.label, humanBytes(n), rate)
	if p.size > 0 {
		frac := float64(n) / float64(p.size)
		if frac > 1 {
			frac = 1
		}
		const width = 30
		bar := strings.Repeat("=", int(frac*width)) + strings.Repeat(" ", width-int(frac*width))
		line = fmt.Sprintf("%s [%s] %3.0f%% %s / %s%s", p.label, bar, frac*100, humanBytes(n), humanBytes(p.size), rate)
	}
	end := ""
	if final {
		end = "\n"
	}
	fmt.Fprintf(p.w, "\r%s\x1b[K%s", line, end)
}

func (p *progress) stop(ok bool) {
	if p.done == nil {
		return
	}
	close(p.done)
	<-p.ended
	if ok {
		p.draw(true)
	} else {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

func humanBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}

// runEnvelope runs "trent encrypt" or "trent decrypt" and returns the exit status.
func runEnvelope(cmd string, args []string) int {
	run := encryptCommand
	if cmd == "decrypt" {
		run = decryptCommand
	}
	err := run(args, os.Stdin, os.Stdout, os.Stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 2
	}
	fmt.Fprintf(os.Stderr, "trent %s: %v\n", cmd, err)
	return 1
}

// isKeyARN reports whether id is a KMS key ARN (not an alias ARN).
func isKeyARN(id string) bool {
	parts := strings.SplitN(id, ":", 6)
	return len(parts) == 6 && parts[0] == "arn" && parts[2] == "kms" && strings.HasPrefix(parts[5], "key/")
}
