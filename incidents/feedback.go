package incidents

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/vigil-siem/vigil/triage"
)

// maxNote bounds an analyst's note.
const maxNote = 4000

// Feedback stores an analyst's correction on a verdict as
// triage.feedback.{verdict,note,at,by}: an update of the verdict document
// in Elasticsearch, or a newer line of it in verdicts.ndjson. The triage
// verdict itself is kept, so the correction can be compared with it. id
// is taken as Show takes it. The note is required: it is the reason
// later triage of similar incidents is shown with the verdict (the
// prompt's history), and what the next analyst reads; a bare verdict
// says neither what was checked nor why.
func Feedback(ctx context.Context, src Source, id, verdict, note string, w io.Writer) error {
	verdict = strings.TrimSpace(verdict)
	if !contains(triage.Verdicts, verdict) {
		return fmt.Errorf("incidents: feedback: unknown verdict %q (want one of %s)", verdict, strings.Join(triage.Verdicts, ", "))
	}
	if strings.TrimSpace(note) == "" {
		return fmt.Errorf("incidents: feedback: the note is required: say why (what was checked, who confirmed it)")
	}
	if len(note) > maxNote {
		return fmt.Errorf("incidents: feedback: note is %d bytes, at most %d", len(note), maxNote)
	}
	st, err := open(src)
	if err != nil {
		return err
	}
	defer st.close()
	r, alert, err := resolve(ctx, st, id)
	if err != nil {
		return err
	}
	by := analyst(src.Analyst)
	at := src.now().Format(time.RFC3339)
	fb := map[string]any{"verdict": verdict, "note": note, "at": at, "by": by}
	if err := st.feedback(ctx, r, fb); err != nil {
		return err
	}
	if alert != "" {
		fmt.Fprintf(w, "(%s is an alert id: the feedback is on its incident)\n", alert)
	}
	_, err = fmt.Fprintf(w, "incident %s: triage said %s, feedback %s by %s at %s stored\n", r.v.ID(), r.v.Triage.Verdict, verdict, by, at)
	return err
}

// analyst is who records feedback: the name given (--by), else $USER,
// else the operating system's user (a service or container may run
// without $USER), else "unknown".
func analyst(given string) string {
	if by := strings.TrimSpace(given); by != "" {
		return by
	}
	if by := strings.TrimSpace(os.Getenv("USER")); by != "" {
		return by
	}
	if u, err := user.Current(); err == nil {
		if u.Username != "" {
			return u.Username
		}
		if u.Uid != "" {
			return "uid " + u.Uid
		}
	}
	return "unknown"
}

func compactJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSpace(b.String())
}
