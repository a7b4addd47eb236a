// Package bench holds trent's benchmark suite: the micro-benchmarks of the
// in-process hot paths (micro_test.go), the load generator (loadgen), the
// plain net/http server that sets the ceiling (ceiling) and the script that
// runs them side by side (run.sh). See README.md in this directory.
package bench
