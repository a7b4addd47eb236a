# The two commands a newcomer needs:
#   make run    start trent in dev mode on 127.0.0.1:4599
#   make test   install what the tests need, then run every test

GO ?= go

.PHONY: run test deps vet unit fuzz-smoke generate

run:
	$(GO) run ./cmd/trent serve

test: deps vet unit fuzz-smoke bench-smoke

deps:
	./scripts/install-test-deps.sh

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 ./...

# Each fuzz target runs a fixed number of inputs (a few seconds each):
# enough to catch a regression in the parsers on every run. A count, not a
# duration: with a duration, Go 1.26's fuzzing coordinator now and then
# fails a healthy target with "context deadline exceeded" as the time runs
# out (golang/go#75804, fixed in Go 1.27). Run longer by hand: see
# docs/testing.md.
FUZZTIME ?= 50000x
fuzz-smoke:
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeRequest$$' -fuzztime=$(FUZZTIME) ./internal/api
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./internal/ciphertext
	$(GO) test -run='^$$' -fuzz='^FuzzOpen$$' -fuzztime=$(FUZZTIME) ./internal/ciphertext
	$(GO) test -run='^$$' -fuzz='^FuzzParseAuthorization$$' -fuzztime=$(FUZZTIME) ./internal/auth
	$(GO) test -run='^$$' -fuzz='^FuzzVerify$$' -fuzztime=$(FUZZTIME) ./internal/keyspec
	$(GO) test -run='^$$' -fuzz='^FuzzVerify$$' -fuzztime=$(FUZZTIME) ./internal/audit
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./internal/policy
	$(GO) test -run='^$$' -fuzz='^FuzzParseHeader$$' -fuzztime=$(FUZZTIME) ./envelope
	$(GO) test -run='^$$' -fuzz='^FuzzDecrypt$$' -fuzztime=$(FUZZTIME) ./envelope
	$(GO) test -run='^$$' -fuzz='^FuzzUnwrap$$' -fuzztime=$(FUZZTIME) ./internal/keyimport
	$(GO) test -run='^$$' -fuzz='^FuzzUnwrapPad$$' -fuzztime=$(FUZZTIME) ./internal/keyimport
	$(GO) test -run='^$$' -fuzz='^FuzzImportedMaterial$$' -fuzztime=$(FUZZTIME) ./internal/keyspec

generate:
	$(GO) generate ./internal/kmsapi

# Benchmarks (bench/README.md). `make bench` runs ceiling and trent side by
# side (about 7 minutes; BENCH_DURATION=2s for a quick look); bench-micro
# runs the in-process micro-benchmarks; bench-smoke runs each of them once,
# so that they keep compiling and working.
.PHONY: bench bench-scale bench-micro bench-smoke

bench:
	GO=$(GO) ./bench/run.sh

# 1,000,000 keys: about 7 minutes (SCALE_KEYS=100000 for a quicker look).
bench-scale:
	GO=$(GO) ./bench/scale.sh

bench-micro:
	$(GO) test -run='^$$' -bench=. -benchmem ./bench/

bench-smoke:
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=1x ./bench/
