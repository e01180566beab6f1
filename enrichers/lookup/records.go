package lookup

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/goccy/go-yaml"
)

// Record is one row of an inventory file: column or key name (lower
// case) to value, and where it was read, for errors.
type Record struct {
	Fields map[string]any
	Where  string // file:line or file[index]
}

// ReadRecords reads an inventory: a CSV file with a header row (.csv), or
// a YAML list of objects (.yaml, .yml). Errors name the file and line.
func ReadRecords(path string) ([]Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return readCSV(path, data)
	case ".yaml", ".yml":
		var list []map[string]any
		if err := unmarshalYAML(data, &list); err != nil {
			return nil, fmt.Errorf("%s: want a YAML list of objects: %s", path, firstLine(err.Error()))
		}
		out := make([]Record, 0, len(list))
		for i, m := range list {
			f := make(map[string]any, len(m))
			for k, v := range m {
				f[strings.ToLower(k)] = v
			}
			out = append(out, Record{Fields: f, Where: fmt.Sprintf("%s[%d]", path, i)})
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: unknown file type (want .csv, .yaml or .yml)", path)
}

func readCSV(path string, data []byte) ([]Record, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header row: %w", path, err)
	}
	for i := range header {
		header[i] = strings.ToLower(strings.TrimSpace(header[i]))
	}
	var out []Record
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		line, _ := cr.FieldPos(0)
		f := make(map[string]any, len(header))
		for i, v := range rec {
			if i < len(header) && header[i] != "" {
				if v = strings.TrimSpace(v); v != "" {
					f[header[i]] = v
				}
			}
		}
		out = append(out, Record{Fields: f, Where: fmt.Sprintf("%s:%d", path, line)})
	}
}

// Text returns the first of keys present in r as text.
func (r Record) Text(keys ...string) string {
	for _, k := range keys {
		switch v := r.Fields[k].(type) {
		case nil:
		case string:
			if v = strings.TrimSpace(v); v != "" {
				return v
			}
		default:
			return strings.TrimSpace(fmt.Sprint(v))
		}
	}
	return ""
}

// List returns the first of keys present in r as a list: a YAML list, or
// text split on ';', '|' or ',' (CSV cells) or spaces.
func (r Record) List(keys ...string) []string {
	for _, k := range keys {
		switch v := r.Fields[k].(type) {
		case nil:
		case []any:
			out := make([]string, 0, len(v))
			for _, x := range v {
				if s := strings.TrimSpace(fmt.Sprint(x)); s != "" {
					out = append(out, s)
				}
			}
			return out
		default:
			s := fmt.Sprint(v)
			out := strings.FieldsFunc(s, func(r rune) bool {
				return r == ';' || r == '|' || r == ',' || r == ' ' || r == '\t'
			})
			if len(out) > 0 {
				return out
			}
		}
	}
	return nil
}

// Bool returns whether the first of keys present in r says yes (true,
// yes, y, 1).
func (r Record) Bool(keys ...string) (bool, error) {
	s := strings.ToLower(r.Text(keys...))
	switch s {
	case "", "false", "no", "n", "0":
		return false, nil
	case "true", "yes", "y", "1":
		return true, nil
	}
	return false, fmt.Errorf("%s: %s %q is not true or false", r.Where, keys[0], s)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// unmarshalYAML decodes YAML, turning a panic of the YAML library on
// hostile input (seen with odd tags) into an error.
func unmarshalYAML(data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed YAML (the decoder failed: %v)", r)
		}
	}()
	return yaml.Unmarshal(data, v)
}
