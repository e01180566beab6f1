package kibana

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/indexer"
)

// jsonStringAttrs are the attributes Kibana stores as JSON inside a
// string, by saved-object type.
var jsonStringAttrs = map[string][]string{
	"index-pattern": {"fieldAttrs", "fieldFormatMap", "fields", "runtimeFieldMap", "sourceFilters", "typeMeta"},
	"search":        {"kibanaSavedObjectMeta.searchSourceJSON"},
	"dashboard":     {"panelsJSON", "optionsJSON", "kibanaSavedObjectMeta.searchSourceJSON"},
	"lens":          {},
}

// lookup returns the value at a dotted path of nested objects.
func lookup(m map[string]any, path string) (any, bool) {
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// inner decodes a JSON-in-string attribute.
func inner(attrs map[string]any, path string) (any, error) {
	v, ok := lookup(attrs, path)
	if !ok {
		return nil, fmt.Errorf("attribute %s missing", path)
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("attribute %s is %T, want a JSON string", path, v)
	}
	var out any
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("attribute %s: %w", path, err)
	}
	return out, nil
}

// savedObject is a decoded object with its attributes as a map.
type savedObject struct {
	Object
	attrs map[string]any
}

func decodeAll(t *testing.T, ndjson []byte) []savedObject {
	t.Helper()
	objs, err := ParseObjects(ndjson)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]savedObject, len(objs))
	for i, o := range objs {
		out[i].Object = o
		if err := json.Unmarshal(o.Attributes, &out[i].attrs); err != nil {
			t.Fatalf("%s %s: attributes: %v", o.Type, o.ID, err)
		}
	}
	return out
}

// fieldUse is one field a visualization or search uses, and how.
type fieldUse struct {
	object, field, use string // use: date_histogram, terms, sum, column, sort, filter, script, time
	dataView           string // data view id
}

// problems checks what Kibana needs to import and render the objects and
// that every field they use is mapped by the index templates. It returns
// one line per problem.
func problems(objs []savedObject) []string {
	var out []string
	bad := func(o savedObject, format string, args ...any) {
		out = append(out, fmt.Sprintf("%s %s: %s", o.Type, o.ID, fmt.Sprintf(format, args...)))
	}
	byKey := map[string]savedObject{}
	for _, o := range objs {
		byKey[o.Type+"/"+o.ID] = o
	}
	var uses []fieldUse
	runtime := map[string]map[string]bool{} // data view id → runtime field names
	for _, o := range objs {
		if _, ok := jsonStringAttrs[o.Type]; !ok {
			bad(o, "unexpected type")
			continue
		}
		if o.CoreMigrationVersion == "" || o.TypeMigrationVersion == "" {
			bad(o, "coreMigrationVersion/typeMigrationVersion missing")
		}
		if t, _ := o.attrs["title"].(string); t == "" {
			bad(o, "no title")
		}
		for _, p := range jsonStringAttrs[o.Type] {
			if _, err := inner(o.attrs, p); err != nil {
				bad(o, "%v", err)
			}
		}
		refs := map[string]Reference{}
		for _, r := range o.References {
			if _, ok := byKey[r.Type+"/"+r.ID]; !ok {
				bad(o, "reference %s points to %s/%s, which is not in the file", r.Name, r.Type, r.ID)
			}
			refs[r.Name] = r
		}
		switch o.Type {
		case "index-pattern":
			if tf, _ := o.attrs["timeFieldName"].(string); tf != "" {
				uses = append(uses, fieldUse{o.ID, tf, "time", o.ID})
			}
			rt, _ := inner(o.attrs, "runtimeFieldMap")
			rtm, _ := rt.(map[string]any)
			runtime[o.ID] = map[string]bool{}
			for name, def := range rtm {
				runtime[o.ID][name] = true
				src, _ := lookup(def.(map[string]any), "script.source")
				s, _ := src.(string)
				for _, m := range regexp.MustCompile(`doc\['([^']+)'\]`).FindAllStringSubmatch(s, -1) {
					uses = append(uses, fieldUse{o.ID, m[1], "script", o.ID})
				}
			}
		case "lens":
			layers, ok := lookup(o.attrs, "state.datasourceStates.formBased.layers")
			lm, _ := layers.(map[string]any)
			if !ok || len(lm) == 0 {
				bad(o, "no formBased layers in state")
			}
			for layerID, l := range lm {
				ref, ok := refs["indexpattern-datasource-layer-"+layerID]
				if !ok || ref.Type != "index-pattern" {
					bad(o, "layer %s has no index-pattern reference indexpattern-datasource-layer-%s", layerID, layerID)
					continue
				}
				cols, _ := lookup(l.(map[string]any), "columns")
				cm, _ := cols.(map[string]any)
				for colID, c := range cm {
					col := c.(map[string]any)
					f, _ := col["sourceField"].(string)
					op, _ := col["operationType"].(string)
					if f == "" || f == "___records___" {
						continue
					}
					uses = append(uses, fieldUse{o.ID + " column " + colID, f, op, ref.ID})
				}
			}
		case "search":
			ss, err := inner(o.attrs, "kibanaSavedObjectMeta.searchSourceJSON")
			if err != nil {
				continue
			}
			ssm, _ := ss.(map[string]any)
			name, _ := ssm["indexRefName"].(string)
			ref, ok := refs[name]
			if !ok || ref.Type != "index-pattern" {
				bad(o, "searchSourceJSON.indexRefName %q has no index-pattern reference", name)
				continue
			}
			cols, _ := o.attrs["columns"].([]any)
			for _, c := range cols {
				uses = append(uses, fieldUse{o.ID, c.(string), "column", ref.ID})
			}
			sorts, _ := o.attrs["sort"].([]any)
			for _, s := range sorts {
				uses = append(uses, fieldUse{o.ID, s.([]any)[0].(string), "sort", ref.ID})
			}
			filters, _ := ssm["filter"].([]any)
			for i, f := range filters {
				meta, _ := f.(map[string]any)["meta"].(map[string]any)
				if rn, _ := meta["indexRefName"].(string); rn != "" {
					if _, ok := refs[rn]; !ok {
						bad(o, "filter %d: indexRefName %q has no reference", i, rn)
					}
				}
				if k, _ := meta["key"].(string); k != "" {
					uses = append(uses, fieldUse{o.ID, k, "filter", ref.ID})
				}
			}
		case "dashboard":
			ps, err := inner(o.attrs, "panelsJSON")
			if err != nil {
				continue
			}
			for _, p := range ps.([]any) {
				panel := p.(map[string]any)
				idx, _ := panel["panelIndex"].(string)
				refName, _ := panel["panelRefName"].(string)
				ref, ok := refs[idx+":"+refName]
				if !ok {
					ref, ok = refs[refName]
				}
				if !ok {
					bad(o, "panel %s: panelRefName %q has no reference", idx, refName)
					continue
				}
				if typ, _ := panel["type"].(string); typ != ref.Type {
					bad(o, "panel %s: type %s, reference %s", idx, typ, ref.Type)
				}
			}
		}
	}
	// The data view a field is used through decides which template maps it.
	kinds := map[string]string{}
	for _, o := range objs {
		if o.Type != "index-pattern" {
			continue
		}
		switch title, _ := o.attrs["title"].(string); {
		case strings.HasPrefix(title, "vigil-alerts"):
			kinds[o.ID] = indexer.KindAlert
		case strings.HasPrefix(title, "vigil-verdicts"):
			kinds[o.ID] = indexer.KindVerdict
		}
	}
	for _, u := range uses {
		kind, ok := kinds[u.dataView]
		if !ok {
			out = append(out, fmt.Sprintf("%s: data view %q matches neither vigil-alerts nor vigil-verdicts", u.object, u.dataView))
			continue
		}
		if runtime[u.dataView][u.field] && u.use != "script" {
			continue
		}
		types, err := indexer.FieldTypes(kind)
		if err != nil {
			return append(out, err.Error())
		}
		typ := types[u.field]
		if !indexer.MappedField(types, u.field) || strings.HasPrefix(typ, "object") {
			out = append(out, fmt.Sprintf("%s: %s field %s is not mapped for %ss", u.object, u.use, u.field, kind))
			continue
		}
		var want []string
		switch u.use {
		case "date_histogram", "time":
			want = []string{"date"}
		case "sum", "average", "max", "min":
			want = []string{"long", "integer", "float", "double", "scaled_float"}
		case "terms", "sort", "script", "filter":
			want = []string{"keyword", "boolean", "ip", "long", "integer", "float", "double", "date"}
		}
		if want != nil && !slices.Contains(want, typ) {
			out = append(out, fmt.Sprintf("%s: %s on %s, which is mapped as %s for %ss", u.object, u.use, u.field, typ, kind))
		}
	}
	slices.Sort(out)
	return out
}

func TestShippedSavedObjects(t *testing.T) {
	objs := decodeAll(t, SavedObjects())
	if p := problems(objs); len(p) > 0 {
		t.Errorf("shipped saved objects have %d problem(s):\n%s", len(p), strings.Join(p, "\n"))
	}
}

func TestShippedSavedObjectsContent(t *testing.T) {
	objs := decodeAll(t, SavedObjects())
	byKey := map[string]savedObject{}
	for _, o := range objs {
		byKey[o.Type+"/"+o.ID] = o
	}
	for _, dv := range []string{"vigil-alerts*", "vigil-verdicts*"} {
		found := false
		for _, o := range objs {
			if o.Type == "index-pattern" && o.attrs["title"] == dv && o.attrs["timeFieldName"] == "@timestamp" {
				found = true
			}
		}
		if !found {
			t.Errorf("no data view %s with timeFieldName @timestamp", dv)
		}
	}
	var dash, search *savedObject
	for i, o := range objs {
		switch {
		case o.Type == "dashboard" && o.attrs["title"] == "Vigil — SOC overview":
			dash = &objs[i]
		case o.Type == "search" && o.attrs["title"] == "Triage queue":
			search = &objs[i]
		}
	}
	if dash == nil || search == nil {
		t.Fatalf("dashboard %q or saved search %q missing", "Vigil — SOC overview", "Triage queue")
	}
	// The fields the dashboard's panels use: each required chart is there.
	used := map[string]bool{}
	vtypes := map[string]bool{}
	for _, r := range dash.References {
		o := byKey[r.Type+"/"+r.ID]
		if o.Type != "lens" {
			continue
		}
		vt, _ := o.attrs["visualizationType"].(string)
		vtypes[vt] = true
		layers, _ := lookup(o.attrs, "state.datasourceStates.formBased.layers")
		for _, l := range layers.(map[string]any) {
			for _, c := range l.(map[string]any)["columns"].(map[string]any) {
				if f, ok := c.(map[string]any)["sourceField"].(string); ok {
					used[f] = true
				}
			}
		}
	}
	for _, f := range []string{"@timestamp", "triage.verdict", "triage.severity", "vigil.incident.entity.value", "threat.technique.id",
		"source.geo.country_iso_code", "triage.tokens.total", "triage.cost_usd", "triage.cached"} {
		if !used[f] {
			t.Errorf("no dashboard panel uses %s", f)
		}
	}
	if !vtypes["lnsChoropleth"] {
		t.Errorf("dashboard has no region map (lnsChoropleth); visualization types: %v", vtypes)
	}
	hasSearch := slices.ContainsFunc(dash.References, func(r Reference) bool { return r.Type == "search" && r.ID == search.ID })
	if !hasSearch {
		t.Errorf("dashboard does not embed the saved search %s", search.ID)
	}
	cols := fmt.Sprint(search.attrs["columns"])
	if cols != "[vigil.incident.id triage.severity triage.verdict triage.confidence triage.engine triage.flags vigil.incident.entity.value triage.summary]" {
		t.Errorf("triage queue columns = %s", cols)
	}
	sort := fmt.Sprint(search.attrs["sort"])
	if !strings.HasPrefix(sort, "[[triage.severity") || !strings.Contains(sort, "[@timestamp desc]") {
		t.Errorf("triage queue sort = %s, want severity first, then @timestamp", sort)
	}
	ss, _ := inner(search.attrs, "kibanaSavedObjectMeta.searchSourceJSON")
	filters, _ := ss.(map[string]any)["filter"].([]any)
	open := false
	for _, f := range filters {
		meta := f.(map[string]any)["meta"].(map[string]any)
		if meta["key"] == "triage.feedback.verdict" && meta["type"] == "exists" && meta["negate"] == true {
			open = true
		}
	}
	if !open {
		t.Errorf("triage queue has no NOT triage.feedback.verdict exists filter: %v", filters)
	}
}

// TestProblemsFindsBrokenObjects proves the checks above can fail: each
// case breaks one thing in the shipped file.
func TestProblemsFindsBrokenObjects(t *testing.T) {
	shipped := string(SavedObjects())
	tests := []struct {
		name, old, new, want string
	}{
		{"unmapped lens field", `"sourceField":"triage.verdict"`, `"sourceField":"triage.verdikt"`, "terms field triage.verdikt is not mapped for verdicts"},
		{"field of the other index", `"sourceField":"threat.technique.id"`, `"sourceField":"triage.attack"`, "terms field triage.attack is not mapped for alerts"},
		{"sum of a keyword", `"sourceField":"triage.cost_usd"`, `"sourceField":"triage.engine"`, "sum on triage.engine, which is mapped as keyword"},
		{"terms on text", `"sourceField":"vigil.incident.entity.value"`, `"sourceField":"triage.summary"`, "terms on triage.summary, which is mapped as text"},
		{"dangling reference", `"id":"vigil-lens-top-entities","name":"p3:panel_p3"`, `"id":"vigil-lens-nope","name":"p3:panel_p3"`, "points to lens/vigil-lens-nope"},
		{"panel without reference", `p4:panel_p4`, `p4:panel_x`, `panel p4: panelRefName "panel_p4" has no reference`},
		{"lens layer without reference", `indexpattern-datasource-layer-llm`, `indexpattern-datasource-layer-xx`, "layer llm has no index-pattern reference"},
		{"unmapped search column", `"triage.confidence","triage.engine"`, `"triage.confidence","triage.engin"`, "column field triage.engin is not mapped"},
		{"bad JSON in panelsJSON", `"panelsJSON":"[`, `"panelsJSON":"{[`, "attribute panelsJSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(shipped, tt.old) {
				t.Fatalf("the shipped file has no %s", tt.old)
			}
			objs := decodeAll(t, []byte(strings.Replace(shipped, tt.old, tt.new, 1)))
			p := strings.Join(problems(objs), "\n")
			if !strings.Contains(p, tt.want) {
				t.Errorf("problems = %q, want one containing %q", p, tt.want)
			}
		})
	}
}

func TestParseObjectsErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"{\"type\":\"lens\",\"id\":\"a\",\"attributes\":{}}\nnot json\n", "line 2"},
		{`{"id":"a","attributes":{}}`, "line 1: no type"},
		{`{"type":"lens","attributes":{}}`, "no id"},
		{`{"type":"lens","id":"a","attributes":"x"}`, "attributes are not an object"},
		{`{"type":"lens","id":"a"}`, "attributes are not an object"},
	}
	for _, tt := range tests {
		_, err := ParseObjects([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseObjects(%q) error = %v, want %q", tt.in, err, tt.want)
		}
	}
}
