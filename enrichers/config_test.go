package enrichers

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/goccy/go-yaml"
)

// TestSampleConfigs decodes every enricher's sample.conf strictly, so the
// documented keys are the real ones.
func TestSampleConfigs(t *testing.T) {
	files, err := filepath.Glob("*/sample.conf")
	if err != nil || len(files) != 6 {
		t.Fatalf("sample.conf files: %v %v, want 6", files, err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Detect struct {
				Enrich Config `yaml:"enrich"`
			} `yaml:"detect"`
		}
		if err := yaml.UnmarshalWithOptions(raw, &doc, yaml.Strict()); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
