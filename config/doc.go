// Package config reads Vigil's configuration: one YAML file (see
// vigil.example.yaml at the repository root), then environment variables on
// top. Every scalar option can be set from the environment as VIGIL_ plus
// its YAML path in upper case with underscores: kafka.bootstrap_servers is
// VIGIL_KAFKA_BOOTSTRAP_SERVERS, index.elasticsearch.api_key is
// VIGIL_INDEX_ELASTICSEARCH_API_KEY. Lists take comma-separated values,
// maps take k=v pairs separated by commas. Secrets belong in the
// environment, never in the file.
package config
