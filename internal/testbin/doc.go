// Package testbin helps tests that run the real vigil binary as separate
// processes (cmd/vigil's binary tests, the chaos test): it builds the
// binary from the module's source and hands out free loopback ports for
// the stages to listen on. Nothing here is used outside tests.
package testbin
