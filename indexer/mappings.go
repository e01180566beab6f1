package indexer

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strings"
)

// ecsFieldsJSON maps the ECS fields Vigil emits, generated from the
// Elastic Common Schema's ecs_flat.yml (Apache-2.0) by
// TestECSMappingsAreCurrent -update.
//
//go:embed mappings/ecs_fields.json
var ecsFieldsJSON []byte

// keyword, text, ... are mapping definitions used below.
func kw() map[string]any            { return map[string]any{"type": "keyword", "ignore_above": 1024} }
func typed(t string) map[string]any { return map[string]any{"type": t} }
func obj(props map[string]any) map[string]any {
	return map[string]any{"properties": props}
}

// entityMapping is a rules.Entity.
func entityMapping() map[string]any {
	return obj(map[string]any{"field": kw(), "value": kw()})
}

// alertMappings maps vigil.alert.*. The matched events are one flattened
// field: searchable by key (vigil.alert.events.source.ip), never adding a
// mapping per key, so no log content can explode the mapping.
func alertMappings() map[string]any {
	return map[string]any{"vigil": obj(map[string]any{
		"alert": obj(map[string]any{
			"id": kw(), "kind": kw(), "severity": kw(), "risk_score": typed("long"),
			"group_keys": entityMapping(), "entity": entityMapping(),
			"session":    obj(map[string]any{"source_ip": typed("ip"), "login_event_id": kw(), "login_time": typed("date")}),
			"first_seen": typed("date"), "last_seen": typed("date"), "event_count": typed("long"),
			"events":           map[string]any{"type": "flattened", "ignore_above": 1024},
			"threshold":        map[string]any{"type": "object", "enabled": false},
			"new_terms":        map[string]any{"type": "object", "enabled": false},
			"suppressed_count": typed("long"),
		}),
	})}
}

// feedbackMappings are the fields of the feedback register's documents.
func feedbackMappings() map[string]any {
	return map[string]any{
		"vigil":  obj(map[string]any{"incident": obj(map[string]any{"id": kw()})}),
		"triage": obj(map[string]any{"feedback": feedbackMapping()}),
	}
}

// feedbackMapping is triage.feedback, on verdicts and in the register.
func feedbackMapping() map[string]any {
	return obj(map[string]any{
		"verdict": kw(), "note": typed("text"), "at": typed("date"), "by": kw(),
	})
}

// verdictMappings maps vigil.incident.* and triage.*.
func verdictMappings() map[string]any {
	text := typed("text")
	return map[string]any{
		"vigil": obj(map[string]any{
			"incident": obj(map[string]any{
				"id": kw(), "entity": entityMapping(),
				"first_seen": typed("date"), "last_seen": typed("date"),
				"severity": kw(), "risk_score": typed("long"), "alert_count": typed("long"), "suppressed_count": typed("long"),
				"alert_ids": kw(),
				"rules": obj(map[string]any{
					"id": kw(), "name": kw(), "severity": kw(), "count": typed("long"), "suppressed": typed("long"), "kind": kw(),
				}),
				"users": kw(), "hosts": kw(), "ips": kw(),
				// Alerts are indexed on their own; a verdict never carries
				// them searchable.
				"alerts": map[string]any{"type": "object", "enabled": false},
			}),
		}),
		"triage": obj(map[string]any{
			"verdict": kw(), "confidence": typed("float"), "severity": kw(),
			"summary": text, "notes": text,
			"attack":              kw(),
			"recommended_actions": text,
			"engine":              kw(), "cached": typed("boolean"),
			"tokens":     obj(map[string]any{"prompt": typed("long"), "completion": typed("long"), "total": typed("long")}),
			"cost_usd":   typed("float"),
			"latency_ms": typed("long"),
			"flags":      kw(),
			"feedback":   feedbackMapping(),
		}),
	}
}

// eventMappings maps Vigil's bookkeeping on raw events.
func eventMappings() map[string]any {
	return map[string]any{"vigil": obj(map[string]any{
		"event_id": kw(), "collector": kw(), "received_at": typed("date"), "parse_error": typed("text"),
	})}
}

// ecsProperties returns the embedded ECS mappings.
func ecsProperties() (map[string]any, error) {
	var doc struct {
		Properties map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(ecsFieldsJSON, &doc); err != nil {
		return nil, fmt.Errorf("indexer: embedded mappings/ecs_fields.json: %w", err)
	}
	return doc.Properties, nil
}

// FieldTypes returns every field the templates map for kind (KindAlert,
// KindVerdict or "event"), by dotted path, with its type ("object" for
// objects; multi-fields such as user.name.text included).
func FieldTypes(kind string) (map[string]string, error) {
	props, err := ecsProperties()
	if err != nil {
		return nil, err
	}
	out := FlattenProperties(props)
	switch kind {
	case KindAlert:
		maps.Copy(out, FlattenProperties(alertMappings()))
	case KindVerdict:
		maps.Copy(out, FlattenProperties(verdictMappings()))
	default:
		maps.Copy(out, FlattenProperties(eventMappings()))
	}
	return out, nil
}

// FlattenProperties flattens a mapping's "properties" into dotted paths
// and their types; objects are "object", multi-fields are listed as
// path.name.
func FlattenProperties(props map[string]any) map[string]string {
	out := map[string]string{}
	var walk func(prefix string, props map[string]any)
	walk = func(prefix string, props map[string]any) {
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			def, _ := props[k].(map[string]any)
			path := k
			if prefix != "" {
				path = prefix + "." + k
			}
			typ, _ := def["type"].(string)
			if typ == "" {
				typ = "object"
			}
			if enabled, ok := def["enabled"].(bool); ok && !enabled {
				typ = disabledObject
			}
			out[path] = typ
			if sub, ok := def["properties"].(map[string]any); ok {
				walk(path, sub)
			}
			if mf, ok := def["fields"].(map[string]any); ok {
				for name, d := range mf {
					if dm, ok := d.(map[string]any); ok {
						t, _ := dm["type"].(string)
						out[path+"."+name] = t
					}
				}
			}
		}
	}
	walk("", props)
	return out
}

// MappedField reports whether path is searchable in an index of kind: a
// mapped leaf field, or a key under a flattened field.
func MappedField(types map[string]string, path string) bool {
	if t, ok := types[path]; ok {
		return t != "object"
	}
	for i := strings.LastIndexByte(path, '.'); i > 0; i = strings.LastIndexByte(path[:i], '.') {
		if t := types[path[:i]]; t == "flattened" || t == disabledObject {
			return true
		}
	}
	return false
}

// disabledObject is FieldTypes' name for an object mapped with enabled:
// false: kept in _source, never indexed, so whatever is inside is fine.
const disabledObject = "object (enabled: false)"
