package triage

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Log text is attacker-controlled. Before a string goes into a prompt it is
// checked for instruction-like text (on a folded form that undoes Unicode
// disguises) and neutralised: invisible and control characters become
// visible [U+XXXX] markers, and a disguised delimiter is spelled out in
// ASCII and then bracketed, so it reads as data, never as the end of the
// data block.

// sanitizeScanLimit bounds how much of one string the injection detector
// folds and scans; longer strings are scanned up to it.
const sanitizeScanLimit = 16 << 10

// confusables maps characters that render like ASCII to that ASCII: the
// fullwidth forms are handled arithmetically, these by table. The list
// covers the look-alikes of the delimiter's characters (< > / _) and the
// Latin letters of instruction words that Cyrillic and Greek can imitate.
var confusables = map[rune]rune{
	// angle brackets and slashes
	'﹤': '<', '‹': '<', '〈': '<', '⟨': '<', '⧼': '<', 'ᐸ': '<', '\u2329': '<', '《': '<', '≺': '<', '˂': '<',
	'﹥': '>', '›': '>', '〉': '>', '⟩': '>', '⧽': '>', 'ᐳ': '>', '\u232a': '>', '》': '>', '≻': '>', '˃': '>',
	'∕': '/', '⁄': '/', '⧸': '/', '╱': '/', '⟋': '/', 'ᜍ': '/',
	'‗': '_', 'ˍ': '_', '＿': '_', '﹍': '_', '﹎': '_', '﹏': '_',
	// Cyrillic
	'а': 'a', 'в': 'b', 'е': 'e', 'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'с': 'c', 'т': 't',
	'у': 'y', 'х': 'x', 'ѕ': 's', 'і': 'i', 'ј': 'j', 'ԁ': 'd', 'ԛ': 'q', 'ԝ': 'w', 'һ': 'h', 'ո': 'n',
	'А': 'A', 'В': 'B', 'Е': 'E', 'К': 'K', 'М': 'M', 'Н': 'H', 'О': 'O', 'Р': 'P', 'С': 'C', 'Т': 'T',
	'Х': 'X', 'І': 'I', 'Ј': 'J', 'Ѕ': 'S',
	// Greek
	'α': 'a', 'ε': 'e', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't', 'υ': 'u', 'χ': 'x',
	'Α': 'A', 'Β': 'B', 'Ε': 'E', 'Ζ': 'Z', 'Η': 'H', 'Ι': 'I', 'Κ': 'K', 'Μ': 'M', 'Ν': 'N', 'Ο': 'O',
	'Ρ': 'P', 'Τ': 'T', 'Υ': 'Y', 'Χ': 'X',
	// Latin look-alikes
	'ı': 'i', 'ɡ': 'g', 'ℓ': 'l', 'ⅰ': 'i', 'ℐ': 'I',
	// İ lower-cases to ASCII i (unicode.ToLower), so fold reads
	// "</İncident_data>" as a delimiter; without this entry neutralize
	// would leave the İ as is and the ASCII bracketing would miss it.
	'İ': 'I',
}

// invisible reports whether r is a character that renders as nothing or
// changes how the text around it renders: format characters (zero-width
// spaces and joiners, bidi overrides and isolates, Unicode tag
// characters, the BOM), C0 and C1 controls, and variation selectors.
func invisible(r rune) bool {
	switch {
	case r == utf8.RuneError:
		return false
	case r < 0x20 && r != '\t' && r != '\n' && r != '\r':
		return true
	case r == 0x7f || (r >= 0x80 && r <= 0x9f):
		return true
	case r >= 0xfe00 && r <= 0xfe0f, r >= 0xe0100 && r <= 0xe01ef:
		return true
	case r == 0x115f || r == 0x1160 || r == 0x3164 || r == 0xffa0: // Hangul fillers
		return true
	}
	return unicode.Is(unicode.Cf, r)
}

// foldRune returns the ASCII r imitates, or r itself; ok is false when r is
// invisible and should be dropped from the folded form. Unicode tag
// characters (U+E0020..U+E007E) are "ASCII smuggling": they fold to the
// ASCII they encode.
func foldRune(r rune) (rune, bool) {
	switch {
	case r >= 0xe0020 && r <= 0xe007e:
		return r - 0xe0000, true
	case r >= 0xff01 && r <= 0xff5e: // fullwidth ASCII
		return r - 0xfee0, true
	case r == 0x3000: // ideographic space
		return ' ', true
	case invisible(r):
		return 0, false
	}
	if a, ok := confusables[r]; ok {
		return a, true
	}
	if unicode.IsSpace(r) {
		return ' ', true
	}
	return r, true
}

// fold is s as a reader would see it: disguises undone, invisible
// characters removed, lower case. It is for detection only.
func fold(s string) string {
	if len(s) > sanitizeScanLimit {
		s = s[:sanitizeScanLimit]
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		f, ok := foldRune(r)
		if !ok {
			continue
		}
		b.WriteRune(unicode.ToLower(f))
	}
	return b.String()
}

// needsFold reports whether s has any byte outside printable ASCII, so
// that the folded form may differ from s lower-cased.
func needsFold(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x7f || c < 0x20 {
			return true
		}
	}
	return false
}

// delimiterRe matches a data delimiter in folded text, in any spacing.
var delimiterRe = regexp.MustCompile(`<\s*/?\s*incident[\s_-]*data\s*>`)

// injectionRe matches instruction-like text in folded log data: requests
// to ignore the instructions, role changes, chat-template tokens, attempts
// to dictate the verdict, and fake answer JSON.
var injectionRe = regexp.MustCompile(strings.Join([]string{
	`<\s*/?\s*incident[\s_-]*data\s*>`,
	`\b(ignore|disregard|forget|override|bypass|skip)\s+(all\s+|any\s+|the\s+|your\s+|of\s+|these\s+|those\s+|my\s+)*(previous|prior|above|earlier|preceding|system|safety|original|existing)\s+(instructions?|prompts?|rules|messages?|guidelines|directions|context|analysis)`,
	`\b(ignore|disregard)\s+(everything|all)\s+(above|before|previous)`,
	`\byou\s+are\s+(now|no\s+longer|actually)\b`,
	`\b(act|behave|respond)\s+as\s+(an?\s+|the\s+)?(ai|assistant|model|system|admin|administrator|analyst|dan|developer)\b`,
	`\bpretend\s+(to\s+be|you\s+are|that)\b`,
	`\brole[\s-]?play\b`,
	`\bfrom\s+now\s+on\b`,
	`\bnew\s+(instructions?|rules|task|system\s+prompt)\s*[:\-]`,
	`\bsystem\s+(prompt|message|override)\b`,
	`\bdeveloper\s+mode\b`,
	`\bjailbreak`,
	`<\|\s*(im_start|im_end|system|assistant|user|endoftext|eot_id|start_header_id)\s*\|>`,
	`\[/?(inst|system|sys)\]`,
	`<<\s*/?sys\s*>>`,
	`(^|[\s"'{,])(system|assistant)\s*:\s*\S`,
	`\b(classify|mark|label|flag|rate|report|treat|consider|judge|categori[sz]e)\s+(this|it|the\s+(incident|alert|event|activity|login|traffic))?\s*(as\s+)?(benign|false[\s_-]*positive|safe|harmless|legitimate|authori[sz]ed|not\s+malicious)\b`,
	`\b(verdict|classification|answer|respond|reply|output)\s*(is|should\s+be|must\s+be|with|=|:)\s*["']?\s*(benign|false[\s_-]*positive|safe)\b`,
	`"\s*verdict\s*"\s*:\s*"`,
	`\b(do\s+not|don'?t|never)\s+(flag|report|alert|escalate|mention|raise)\b`,
	`\bthis\s+is\s+(a\s+|an\s+)?(authori[sz]ed|sanctioned|approved|harmless)\s+(test|pentest|penetration\s+test|activity|scan)`,
	`\b(ai|llm|language\s+model|assistant|chatgpt|gpt)\b.{0,40}\b(must|should|will|shall)\b`,
	`\b(note|message|attention)\s+to\s+(the\s+)?(ai|llm|model|assistant|analyst\s+bot|triage)\b`,
}, "|"))

// injectionHints are words one of which every injectionRe match contains
// (in folded form, whitespace runs squeezed to one space): a cheap filter
// that spares plain log text the regexp.
var injectionHints = []string{
	"incident", "ignore", "disregard", "forget", "override", "bypass", "skip ", "you are", "act as",
	"behave as", "respond as", "pretend", "roleplay", "role play", "role-play", "from now", "new instruction",
	"new rule", "new task", "new system", "system p", "system m", "system o", "system:", "system :",
	"assistant", "developer mode", "jailbreak", "<|", "[inst", "[/inst", "[sys", "[/sys", "<<",
	"classify", "mark ", "label", "flag", "rate ", "report", "treat", "consider", "judge", "categori",
	"verdict", "classification", "answer", "reply", "output", "do not", "don't", "dont", "never ",
	"this is", "must", "should", "shall", " will", "note to", "message to", "attention to",
}

// looksLikeInjection reports whether s contains instruction-like text or a
// delimiter, disguised or not.
func looksLikeInjection(s string) bool {
	var f string
	if needsFold(s) {
		f = fold(s)
	} else {
		if len(s) > sanitizeScanLimit {
			s = s[:sanitizeScanLimit]
		}
		f = strings.ToLower(s)
	}
	h := f
	if strings.Contains(h, "  ") || strings.ContainsAny(h, "\t\n\r\v\f") {
		h = strings.Join(strings.Fields(h), " ")
	}
	for _, w := range injectionHints {
		if strings.Contains(h, w) {
			return injectionRe.MatchString(f)
		}
	}
	return false
}

// neutralize makes s safe to place inside the data block: invisible and
// control characters become visible [U+XXXX] markers (tabs and newlines
// are left to the JSON encoder, which escapes them), and when the folded
// text holds a delimiter, every disguised character is spelled in ASCII
// and each delimiter is bracketed ("[/incident_data]").
func neutralize(s string) string {
	if !needsFold(s) && !strings.Contains(s, "<") && !strings.Contains(strings.ToLower(s), "incident") {
		return s
	}
	delim := delimiterRe.MatchString(fold(s))
	var b strings.Builder
	b.Grow(len(s) + 16)
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			b.WriteRune(r)
		case r >= 0xe0020 && r <= 0xe007e && delim:
			b.WriteRune(r - 0xe0000)
		case invisible(r):
			fmt.Fprintf(&b, "[U+%04X]", r)
		case delim:
			f, _ := foldRune(r)
			// Tabs and newlines stay (the JSON encoder escapes them);
			// other spaces (U+00A0, U+3000, ...) become ASCII spaces, as
			// fold reads them: asciiDelimiterRe's \s is ASCII only.
			if f == ' ' && r < utf8.RuneSelf {
				f = r
			}
			b.WriteRune(f)
		default:
			b.WriteRune(r)
		}
	}
	out := b.String()
	if delim || strings.Contains(out, "<") {
		out = asciiDelimiterRe.ReplaceAllStringFunc(out, func(tag string) string {
			return "[" + strings.Trim(tag, "<>") + "]"
		})
	}
	return out
}

// asciiDelimiterRe matches an ASCII delimiter in any case and spacing.
var asciiDelimiterRe = regexp.MustCompile(`(?i)<\s*/?\s*incident[\s_-]*data\s*>`)
