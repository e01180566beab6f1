package wire

// Tricky exposes tricky to the external tests (corpus, fuzz, benchmarks),
// which live in package wire_test because they import collectors, and
// collectors imports config, which imports wire.
var Tricky = tricky
