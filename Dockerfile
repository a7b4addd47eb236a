# trent in a container: a static binary on an empty base, run as a
# non-root user. Build:   docker build -t trent .
# Run:     docker run -v /etc/trent:/etc/trent:ro -v trent-data:/var/lib/trent \
#            -p 4599:4599 -p 9599:9599 trent
#
# This image has no PKCS#11 support (CGO_ENABLED=0): an HSM-backed root key
# needs a cgo build linked against the C library and a base image that has
# the vendor's module; see docs/deployment.md.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static, reproducible, without the build machine's paths.
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w -buildid=' -o /out/trent ./cmd/trent
# The data directory, owned by the user trent runs as (it refuses a data
# directory another user owns).
RUN mkdir -p /out/var/lib/trent && chown 10001:10001 /out/var/lib/trent && chmod 0700 /out/var/lib/trent

FROM scratch
COPY --from=build /out/trent /usr/local/bin/trent
COPY --from=build --chown=10001:10001 /out/var/lib/trent /var/lib/trent
# CA roots are only needed to reach PostgreSQL over TLS with a public CA.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
USER 10001:10001
VOLUME ["/var/lib/trent"]
# 4599: the KMS API (put TLS on it: "tls" in the config); 9599: metrics,
# /healthz and /readyz if "metrics_listen" is "0.0.0.0:9599".
EXPOSE 4599 9599
ENTRYPOINT ["/usr/local/bin/trent", "serve"]
CMD ["--config", "/etc/trent/trent.json"]
