// Command ceiling is the fastest HTTP/1.1 JSON server a Go program can be:
// plain net/http, no authentication, no work. It reads a ~300-byte JSON
// body, decodes it with encoding/json, and answers a ~300-byte JSON body
// with the headers trent sends. Its throughput on a machine is the ceiling
// trent's data plane is measured against (see bench/README.md).
//
//	ceiling -listen 127.0.0.1:0
//
// It prints "endpoint: URL" once it is listening.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// request is the shape of loadgen's "-op ceiling" bodies: an Encrypt request.
type request struct {
	KeyId             string
	Plaintext         []byte
	EncryptionContext map[string]string
}

// response is about the size of an Encrypt answer for the same request.
type response struct {
	KeyId               string
	CiphertextBlob      []byte
	EncryptionAlgorithm string
}

func handle(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, `{"__type":"SerializationException"}`, http.StatusBadRequest)
		return
	}
	var in request
	if err := json.Unmarshal(body, &in); err != nil {
		http.Error(w, `{"__type":"SerializationException"}`, http.StatusBadRequest)
		return
	}
	out, err := json.Marshal(response{KeyId: in.KeyId, CiphertextBlob: in.Plaintext, EncryptionAlgorithm: "SYMMETRIC_DEFAULT"})
	if err != nil {
		http.Error(w, `{"__type":"InternalFailure"}`, http.StatusInternalServerError)
		return
	}
	// The headers trent sends: a request ID the size of a UUID, the content type.
	w.Header().Set("x-amzn-RequestId", "00000000-0000-4000-8000-000000000000")
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Write(out)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "`host:port` to listen on")
	flag.Parse()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	// The same server settings as trent's (internal/server).
	srv := &http.Server{
		Handler:           http.HandlerFunc(handle),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	fmt.Printf("endpoint: http://%s\n", ln.Addr())
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
		<-stop
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
