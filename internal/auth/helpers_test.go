package auth

import (
	"bufio"
	"encoding/base64"
	"io"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

// raceEnabled is set when the race detector is on; allocation counts are
// not meaningful then.
var raceEnabled bool
