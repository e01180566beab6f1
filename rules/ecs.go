package rules

import (
	_ "embed"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

// ecsFieldsText is the sorted list of ECS field names, one per line,
// generated from ecs_flat.yml by TestECSFieldsAreCurrent (-update).
//
//go:embed ecs/fields.txt
var ecsFieldsText string

var ecsFields = sync.OnceValue(func() []string {
	var out []string
	for _, l := range strings.Split(ecsFieldsText, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
})

// ecsArrayFieldsText lists the ECS fields whose values are lists
// (normalize: array), generated from ecs_flat.yml by
// TestECSArrayFieldsAreCurrent (-update).
//
//go:embed ecs/array_fields.txt
var ecsArrayFieldsText string

var ecsArrayFields = sync.OnceValue(func() map[string]bool {
	out := map[string]bool{}
	for _, l := range strings.Split(ecsArrayFieldsText, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out[l] = true
		}
	}
	return out
})

// freeNamespaces are field prefixes allowed without being ECS: Vigil's
// own fields, labels, and the vendor namespaces of the sources it reads.
var freeNamespaces = []string{"vigil.", "labels.", "winlog.", "aws.", "suricata.", "zeek.", "kubernetes.", "auditd."}

// IsECSField says whether name is an ECS field or in a namespace Vigil
// allows beside ECS (vigil.*, labels.*, winlog.*, aws.*, suricata.*,
// zeek.*, kubernetes.*, auditd.*).
func IsECSField(name string) bool {
	for _, p := range freeNamespaces {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	_, found := slices.BinarySearch(ecsFields(), name)
	return found
}

// checkField returns "" for a known field, else a message naming the
// closest ECS field.
func checkField(name string) string {
	if IsECSField(name) {
		return ""
	}
	if s := SuggestECSField(name); s != "" {
		return fmt.Sprintf("unknown field %s (did you mean %s?)", name, s)
	}
	return fmt.Sprintf("unknown field %s (not in ECS)", name)
}

// SuggestECSField returns the ECS field closest to name (edit distance,
// ignoring dots and underscores first), or "" when none is close.
func SuggestECSField(name string) string {
	squash := func(s string) string { return strings.NewReplacer(".", "", "_", "").Replace(strings.ToLower(s)) }
	want := squash(name)
	best, bestD := "", 1<<30
	for _, f := range ecsFields() {
		if squash(f) == want {
			return f
		}
		if abs(len(f)-len(name)) > 3 {
			continue
		}
		if d := editDistance(name, f); d < bestD {
			best, bestD = f, d
		}
	}
	if bestD <= max(2, len(name)/5) {
		return best
	}
	return ""
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
