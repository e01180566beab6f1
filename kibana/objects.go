package kibana

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
)

// savedObjects is the NDJSON import file: one saved object per line.
//
//go:embed vigil.ndjson
var savedObjects []byte

// SavedObjects returns a copy of the embedded NDJSON file with every saved
// object Vigil ships, one object per line, ready for Kibana's import API.
func SavedObjects() []byte {
	return bytes.Clone(savedObjects)
}

// Reference is a saved object's pointer to another saved object.
type Reference struct {
	Name string `json:"name"`
	Type string `json:"type"`
	ID   string `json:"id"`
}

// Object is one saved object as Kibana exports it.
type Object struct {
	Type                 string          `json:"type"`
	ID                   string          `json:"id"`
	Attributes           json.RawMessage `json:"attributes"`
	References           []Reference     `json:"references"`
	CoreMigrationVersion string          `json:"coreMigrationVersion,omitempty"`
	TypeMigrationVersion string          `json:"typeMigrationVersion,omitempty"`
	Managed              bool            `json:"managed"`
}

// Title returns the object's title attribute (a data view's name when
// it has one), or "" when there is none.
func (o Object) Title() string {
	var a struct {
		Title string `json:"title"`
		Name  string `json:"name"`
	}
	if json.Unmarshal(o.Attributes, &a) != nil {
		return ""
	}
	if o.Type == "index-pattern" && a.Name != "" {
		return a.Name
	}
	return a.Title
}

// ParseObjects decodes an NDJSON saved-objects file. Empty lines are
// skipped; a line that is not a JSON object with a type, an id and
// attributes is an error naming its line number.
func ParseObjects(ndjson []byte) ([]Object, error) {
	var out []Object
	for i, line := range bytes.Split(ndjson, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var o Object
		if err := json.Unmarshal(line, &o); err != nil {
			return nil, fmt.Errorf("kibana: saved objects line %d: %w", i+1, err)
		}
		switch {
		case o.Type == "":
			return nil, fmt.Errorf("kibana: saved objects line %d: no type", i+1)
		case o.ID == "":
			return nil, fmt.Errorf("kibana: saved objects line %d (%s): no id", i+1, o.Type)
		case len(o.Attributes) == 0 || o.Attributes[0] != '{':
			return nil, fmt.Errorf("kibana: saved objects line %d (%s %s): attributes are not an object", i+1, o.Type, o.ID)
		}
		out = append(out, o)
	}
	return out, nil
}
