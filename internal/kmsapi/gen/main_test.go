package main

import (
	"strings"
	"testing"
)

func TestHTTPStatusRule(t *testing.T) {
	withStatus := func(code int) *shape {
		s := &shape{Exception: true}
		s.Error = &struct {
			HTTPStatusCode int `json:"httpStatusCode"`
		}{code}
		return s
	}
	for _, tc := range []struct {
		name       string
		shape      *shape
		smithy     smithyError
		haveSmithy bool
		want       int
		wantErr    string
	}{
		// Client faults are 400 whatever the model's status.
		{"client 404", &shape{Exception: true}, smithyError{"client", 404}, true, 400, ""},
		{"client 409", &shape{Exception: true}, smithyError{"client", 409}, true, 400, ""},
		{"client 412", &shape{Exception: true}, smithyError{"client", 412}, true, 400, ""},
		{"client, botocore only", &shape{Exception: true}, smithyError{}, false, 400, ""},
		{"botocore status ignored for a client fault", withStatus(404), smithyError{}, false, 400, ""},
		// Server faults keep the model's 5xx.
		{"server 500", &shape{Exception: true, Fault: true}, smithyError{"server", 500}, true, 500, ""},
		{"server 503", &shape{Exception: true, Fault: true}, smithyError{"server", 503}, true, 503, ""},
		{"server, botocore status", func() *shape { s := withStatus(503); s.Fault = true; return s }(), smithyError{}, false, 503, ""},
		{"server without status", &shape{Exception: true, Fault: true}, smithyError{}, false, 0, "no 5xx"},
		{"server with a 4xx status", &shape{Exception: true, Fault: true}, smithyError{"server", 409}, true, 0, "no 5xx"},
		{"models disagree", &shape{Exception: true}, smithyError{"server", 500}, true, 0, "Smithy model"},
		{"no error trait", &shape{Exception: true}, smithyError{}, true, 0, "no error trait"},
	} {
		got, err := httpStatus("X", tc.shape, tc.smithy, tc.haveSmithy)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: %d, %v; want an error containing %q", tc.name, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %d, %v; want %d", tc.name, got, err, tc.want)
		}
	}
}
