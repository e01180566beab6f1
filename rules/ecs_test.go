package rules

import (
	"bufio"
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/internal/corpus"
)

var updateECS = flag.Bool("update", false, "regenerate rules/ecs/fields.txt from the corpus's ecs_flat.yml")

// ecsFlatNames lists the top-level keys of ecs_flat.yml: every ECS field
// by its dotted name.
func ecsFlatNames(data []byte) []string {
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1024*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == ' ' || line[0] == '#' || !strings.HasSuffix(line, ":") {
			continue
		}
		names = append(names, strings.Trim(strings.TrimSuffix(line, ":"), `'"`))
	}
	sort.Strings(names)
	return names
}

// ecsArrayNames lists the fields of ecs_flat.yml whose normalize list
// holds array: ECS events carry them as lists.
func ecsArrayNames(data []byte) []string {
	var names []string
	field, inNormalize := "", false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1024*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line != "" && line[0] != ' ' && line[0] != '#' && strings.HasSuffix(line, ":"):
			field, inNormalize = strings.Trim(strings.TrimSuffix(line, ":"), `'"`), false
		case line == "  normalize:":
			inNormalize = true
		case inNormalize && strings.HasPrefix(line, "  - "):
			if strings.TrimSpace(line) == "- array" {
				names = append(names, field)
			}
		default:
			inNormalize = false
		}
	}
	sort.Strings(names)
	return names
}

// TestECSArrayFieldsAreCurrent checks that ecs/array_fields.txt lists the
// array fields of the corpus's ECS definition; with -update it rewrites it.
func TestECSArrayFieldsAreCurrent(t *testing.T) {
	names := ecsArrayNames(corpus.Read(t, filepath.Join("ecs", "ecs_flat.yml")))
	if !slices.Contains(names, "event.category") || !slices.Contains(names, "related.ip") || slices.Contains(names, "source.ip") {
		t.Fatalf("array fields of ecs_flat.yml misread: %d, e.g. %.5q", len(names), names)
	}
	text := "# ECS fields whose values are lists (normalize: array), generated from elastic/ecs generated/ecs/ecs_flat.yml.\n" +
		"# Regenerate: go test ./rules -run TestECSArrayFieldsAreCurrent -update\n" + strings.Join(names, "\n") + "\n"
	if *updateECS {
		if err := os.WriteFile(filepath.Join("ecs", "array_fields.txt"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if ecsArrayFieldsText != text {
		t.Fatal("ecs/array_fields.txt is not the array fields of ecs_flat.yml: run go test ./rules -run TestECSArrayFieldsAreCurrent -update")
	}
}

// TestECSFieldsAreCurrent checks that ecs/fields.txt is the field list of
// the corpus's ECS definition; with -update it rewrites it.
func TestECSFieldsAreCurrent(t *testing.T) {
	names := ecsFlatNames(corpus.Read(t, filepath.Join("ecs", "ecs_flat.yml")))
	if len(names) < 1000 {
		t.Fatalf("found %d fields in ecs_flat.yml, expected the whole schema", len(names))
	}
	text := "# ECS field names, generated from elastic/ecs generated/ecs/ecs_flat.yml (see README.md).\n" +
		"# Regenerate: go test ./rules -run TestECSFieldsAreCurrent -update\n" + strings.Join(names, "\n") + "\n"
	if *updateECS {
		if err := os.WriteFile(filepath.Join("ecs", "fields.txt"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := ecsFields(); strings.Join(got, "\n") != strings.Join(names, "\n") {
		t.Fatalf("ecs/fields.txt has %d fields, ecs_flat.yml %d: run go test ./rules -run TestECSFieldsAreCurrent -update", len(got), len(names))
	}
}

func TestFieldNamesAreCheckedAgainstECS(t *testing.T) {
	cases := []struct {
		name, want string
	}{
		{"source.ip", ""},
		{"@timestamp", ""},
		{"source.geo.country_iso_code", ""},
		{"vigil.repeat_count", ""},
		{"winlog.event_data.TargetImage", ""},
		{"labels.team", ""},
		{"sourceip", "unknown field sourceip (did you mean source.ip?)"},
		{"user.nmae", "unknown field user.nmae (did you mean user.name?)"},
		{"event.outcom", "unknown field event.outcom (did you mean event.outcome?)"},
		{"source_ip", "unknown field source_ip (did you mean source.ip?)"},
		{"totally.madeup.thing.here", "unknown field totally.madeup.thing.here (not in ECS)"},
	}
	for _, c := range cases {
		if got := checkField(c.name); got != c.want {
			t.Errorf("checkField(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}
