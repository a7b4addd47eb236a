package kmsapi

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Time is a timestamp of the KMS API. On the wire it is a JSON number of
// seconds since the Unix epoch, possibly fractional (1700000000.123).
type Time struct {
	time.Time
}

// NewTime returns t as a *Time, for filling in optional members.
func NewTime(t time.Time) *Time { return &Time{t} }

// MarshalJSON writes t as epoch seconds with at most millisecond precision:
// 1700000000 or 1700000000.123.
func (t Time) MarshalJSON() ([]byte, error) {
	ms := t.UnixMilli()
	var b []byte
	if ms < 0 {
		b = append(b, '-')
		ms = -ms
	}
	b = strconv.AppendInt(b, ms/1000, 10)
	if frac := ms % 1000; frac != 0 {
		b = append(b, '.')
		b = append(b, byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
		b = bytes.TrimRight(b, "0")
	}
	return b, nil
}

// Seconds since the epoch accepted on input: years 1 to 9999.
const minSeconds, maxSeconds = -62135596800, 253402300799

// UnmarshalJSON reads epoch seconds, integer or fractional, in any JSON
// number form (AWS itself sends 1.421516513393E9). Precision beyond the
// microsecond is rounded off. null leaves t unchanged.
func (t *Time) UnmarshalJSON(data []byte) error {
	s := string(data)
	if s == "null" {
		return nil
	}
	if s == "" || s[0] != '-' && (s[0] < '0' || s[0] > '9') {
		return fmt.Errorf("kmsapi: timestamp must be a JSON number of epoch seconds, got %.20s", s)
	}
	if sec, err := strconv.ParseInt(s, 10, 64); err == nil {
		if sec < minSeconds || sec > maxSeconds {
			return fmt.Errorf("kmsapi: timestamp %s out of range", s)
		}
		t.Time = time.Unix(sec, 0).UTC()
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < minSeconds || f > maxSeconds {
		return fmt.Errorf("kmsapi: invalid timestamp %.20s", s)
	}
	sec := math.Floor(f)
	usec := math.Round((f - sec) * 1e6)
	t.Time = time.Unix(int64(sec), int64(usec)*1e3).UTC()
	return nil
}
