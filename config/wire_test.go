package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/wire"
)

// TestWireSection: wire.formats and wire.schema_registry load from the
// file, the password from the environment, and bad values name the key.
func TestWireSection(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vigil.yaml")
	yaml := "wire:\n  formats:\n    vigil.events: avro\n  schema_registry:\n    url: https://sr.example:8081\n    username: sr-key\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := "fake-" + t.Name()
	t.Setenv("VIGIL_WIRE_SCHEMA_REGISTRY_PASSWORD", secret)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	w := cfg.Wire
	if w.Formats["vigil.events"] != wire.FormatAvro || w.SchemaRegistry.URL != "https://sr.example:8081" ||
		w.SchemaRegistry.Username != "sr-key" || w.SchemaRegistry.Password != secret {
		t.Errorf("wire: %+v", w.Formats)
	}

	t.Setenv("VIGIL_WIRE_FORMATS", "vigil.events=json")
	if cfg, err := Load(path); err != nil || cfg.Wire.Formats["vigil.events"] != wire.FormatJSON {
		t.Errorf("VIGIL_WIRE_FORMATS: %v %v", cfg.Wire.Formats, err)
	}

	t.Setenv("VIGIL_WIRE_FORMATS", "vigil.events=avro")
	t.Setenv("VIGIL_WIRE_SCHEMA_REGISTRY_PASSWORD", "")
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "wire.schema_registry") {
		t.Errorf("username without password: %v", err)
	}
	t.Setenv("VIGIL_WIRE_FORMATS", "vigil.events=protobuf")
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "wire.formats[vigil.events]") {
		t.Errorf("unknown format: %v", err)
	}
}
