package incidents

import (
	"strings"
	"unicode/utf8"
)

// width is where rendered text wraps.
const width = 100

// renderMarkdown renders the Markdown of triage notes for a terminal,
// without escape sequences: headings underlined, paragraphs and list
// items wrapped at width with a hanging indent, code blocks indented and
// never wrapped, emphasis and code-span markers removed. indent prefixes
// every line.
func renderMarkdown(md, indent string) string {
	var b strings.Builder
	lines := strings.Split(strings.ReplaceAll(sanitize(md), "\r\n", "\n"), "\n")
	var para []string
	flush := func() {
		if len(para) > 0 {
			wrap(&b, inline(strings.Join(para, " ")), indent, indent)
			para = nil
		}
	}
	inCode := false
	blankPending := false
	emitBlank := func() {
		if blankPending && b.Len() > 0 {
			b.WriteString("\n")
		}
		blankPending = false
	}
	for _, l := range lines {
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "```") {
			flush()
			if !inCode {
				emitBlank()
			}
			inCode = !inCode
			continue
		}
		if inCode {
			b.WriteString(indent + "    " + strings.TrimRight(l, " \t") + "\n")
			continue
		}
		switch {
		case trimmed == "":
			flush()
			blankPending = true
		case strings.HasPrefix(trimmed, "#"):
			flush()
			emitBlank()
			title := inline(strings.TrimSpace(strings.TrimLeft(trimmed, "#")))
			b.WriteString(indent + title + "\n")
			b.WriteString(indent + strings.Repeat("─", utf8.RuneCountInString(title)) + "\n")
		case isBullet(trimmed):
			flush()
			emitBlank()
			nest := strings.Repeat("  ", (len(l)-len(strings.TrimLeft(l, " ")))/2)
			first := indent + "  " + nest + "• "
			wrap(&b, inline(strings.TrimSpace(trimmed[2:])), first, strings.Repeat(" ", utf8.RuneCountInString(first)))
		case orderedItem(trimmed) > 0:
			flush()
			emitBlank()
			n := orderedItem(trimmed)
			nest := strings.Repeat("  ", (len(l)-len(strings.TrimLeft(l, " ")))/2)
			first := indent + "  " + nest + trimmed[:n] + " "
			wrap(&b, inline(strings.TrimSpace(trimmed[n:])), first, strings.Repeat(" ", utf8.RuneCountInString(first)))
		default:
			if len(para) == 0 {
				emitBlank()
			}
			para = append(para, trimmed)
		}
	}
	flush()
	return b.String()
}

func isBullet(s string) bool {
	return len(s) > 2 && (s[0] == '-' || s[0] == '*' || s[0] == '+') && s[1] == ' '
}

// orderedItem returns the length of an "12." marker, 0 if s has none.
func orderedItem(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 0 && i+1 < len(s) && (s[i] == '.' || s[i] == ')') && s[i+1] == ' ' {
		return i + 1
	}
	return 0
}

// inline drops emphasis markers and the backticks of code spans.
func inline(s string) string {
	s = strings.ReplaceAll(s, "**", "")
	s = strings.ReplaceAll(s, "__", "")
	return strings.ReplaceAll(s, "`", "")
}

// wrap writes text wrapped at width: the first line after first, the
// others after rest. A word longer than a line is not broken.
func wrap(b *strings.Builder, text, first, rest string) {
	prefix := first
	line := prefix
	col := utf8.RuneCountInString(prefix)
	empty := true
	for _, w := range strings.Fields(text) {
		n := utf8.RuneCountInString(w)
		if !empty && col+1+n > width {
			b.WriteString(line + "\n")
			prefix = rest
			line, col, empty = prefix, utf8.RuneCountInString(prefix), true
		}
		if !empty {
			line += " "
			col++
		}
		line += w
		col += n
		empty = false
	}
	b.WriteString(line + "\n")
}
