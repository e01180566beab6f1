package incidents

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/vigil-siem/vigil/triage"
)

// maxNote bounds an analyst's note.
const maxNote = 4000

// Feedback stores an analyst's correction on a verdict as
// triage.feedback.{verdict,note,at,by}: an update of the verdict document
// in Elasticsearch, or a newer line of it in verdicts.ndjson. The triage
// verdict itself is kept, so the correction can be compared with it.
func Feedback(ctx context.Context, src Source, id, verdict, note string, w io.Writer) error {
	id, verdict = strings.TrimSpace(id), strings.TrimSpace(verdict)
	if id == "" {
		return fmt.Errorf("incidents: feedback: incident id is empty")
	}
	if !contains(triage.Verdicts, verdict) {
		return fmt.Errorf("incidents: feedback: unknown verdict %q (want one of %s)", verdict, strings.Join(triage.Verdicts, ", "))
	}
	if len(note) > maxNote {
		return fmt.Errorf("incidents: feedback: note is %d bytes, at most %d", len(note), maxNote)
	}
	st, err := open(src)
	if err != nil {
		return err
	}
	defer st.close()
	r, err := st.verdict(ctx, id)
	if err != nil {
		return err
	}
	by := src.Analyst
	if by == "" {
		by = os.Getenv("USER")
	}
	if by == "" {
		by = "unknown"
	}
	at := src.now().Format(time.RFC3339)
	fb := map[string]any{"verdict": verdict, "note": note, "at": at, "by": by}
	if err := st.feedback(ctx, r, fb); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "incident %s: triage said %s, feedback %s by %s at %s stored\n", id, r.v.Triage.Verdict, verdict, by, at)
	return err
}

func compactJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSpace(b.String())
}
