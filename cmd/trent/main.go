// Command trent is a key management service that speaks the AWS KMS API.
//
//	trent serve [--config FILE] [--listen ADDR] [--data DIR]
//	trent audit verify [--config FILE | --data DIR] FILE...
//	trent rootkey init [--config FILE | --data DIR]
//	trent rootkey rewrap [--config FILE | --data DIR]
//	trent policy explain --config FILE --principal ARN --action ACTION ...
//	trent encrypt --key-id KEY... -i INPUT -o OUTPUT [--context k=v]...
//	trent decrypt --key-id KEY... -i INPUT -o OUTPUT [--context k=v]...
//
// Without --config, trent serve runs in dev mode: loopback only, one
// account, the access key "test" with secret "test". See
// docs/configuration.md and docs/envelope.md.
package main

import (
	"errors"
	"fmt"
	"os"
)

const usage = `trent is a key management service that speaks the AWS KMS API.

Usage:
  trent serve [--config FILE] [--listen ADDR] [--data DIR] [--cpuprofile FILE]
  trent audit verify [--config FILE | --data DIR] FILE...
  trent rootkey init [--config FILE | --data DIR]
  trent rootkey rewrap [--config FILE | --data DIR]
  trent policy explain --config FILE --principal ARN --action ACTION (--key-policy FILE --key-arn ARN | --endpoint-url URL --key-id KEY)
  trent encrypt --key-id KEY... -i INPUT -o OUTPUT [--context k=v]...
  trent decrypt --key-id KEY... -i INPUT -o OUTPUT [--context k=v]...

Without --config trent serve runs in dev mode. Run "trent <command> -h" for
the flags of a command.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; {
	case cmd == "serve":
		err = serve(args, os.Stdout)
	case cmd == "audit" && len(args) > 0 && args[0] == "verify":
		err = auditVerify(args[1:], os.Stdout)
	case cmd == "rootkey" && len(args) > 0 && args[0] == "init":
		err = rootkeyInit(args[1:], os.Stdout)
	case cmd == "rootkey" && len(args) > 0 && args[0] == "rewrap":
		err = rootkeyRewrap(args[1:], os.Stdout)
	case cmd == "policy" && len(args) > 0 && args[0] == "explain":
		err = policyExplain(args[1:], os.Stdout)
		if errors.Is(err, errDenied) {
			os.Exit(3)
		}
	case cmd == "encrypt" || cmd == "decrypt":
		os.Exit(runEnvelope(cmd, args))
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "trent:", err)
		os.Exit(1)
	}
}
