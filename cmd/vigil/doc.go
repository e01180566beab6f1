// Command vigil is Vigil's single binary: `vigil demo` runs the whole
// pipeline on an embedded broker, `vigil run` runs every stage in one
// process, and `vigil collect|detect|triage|index` run one stage each so
// that stages scale out as separate processes on a Kafka cluster.
// `vigil broker` runs the embedded Kafka-protocol broker standalone.
package main
