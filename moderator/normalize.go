package moderator

import (
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// A banned word is written in many spellings: "Hate", "HÂTE", "h4te",
// "haaate", "h.a.t.e", "h a t e". Both the text and the rule set's words
// are brought to one spelling (normalize) and compared as whole words, so
// "whatever" and "that excellent" never match "hate". A library such as
// github.com/TwiN/go-away compares substrings of the text with its spaces
// removed, which flags exactly those, and it has no rule for repeated
// letters; a shop's review would be rejected for a word it does not hold.

// unaccent decomposes compatibility characters (ﬁ → fi, full-width letters
// → ASCII) and drops the combining marks that decomposition leaves
// (é → e).
var unaccent = transform.Chain(norm.NFKD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)

// lookalikes map the characters that stand in for letters to the letter.
// 1 and l both become i, so "k1ll" and "kill" have one spelling; the rule
// set's words go through the same map. Other punctuation ("!", "|") is a
// separator: "bad!" is "bad".
var lookalikes = map[rune]rune{
	'0': 'o', '1': 'i', 'l': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't',
	'@': 'a', '$': 's',
}

// fold is s in lower case without accents, with lookalikes replaced.
func fold(s string) string {
	if out, _, err := transform.String(unaccent, s); err == nil {
		s = out
	}
	s = strings.ToLower(s)
	return strings.Map(func(r rune) rune {
		if l, ok := lookalikes[r]; ok {
			return l
		}
		return r
	}, s)
}

// squeeze collapses runs of one letter: "haaate" → "hate". Rule words are
// squeezed too, so "good" (→ "god") still matches "goooood".
func squeeze(w string) string {
	var b strings.Builder
	var last rune = -1
	for _, r := range w {
		if r != last {
			b.WriteRune(r)
		}
		last = r
	}
	return b.String()
}

// spellings are the ways a text's words can be read, each a list of
// normalized words: split at every non-letter ("good.bad" → good, bad);
// and split at spaces only, with what is between letters removed ("b.a.d"
// → bad). runs are the text's runs of single letters ("I h a t e it" →
// "ihate"), in which a banned word is looked for anywhere: a spelled-out
// word has no boundary to find.
func spellings(s string) (words, joined, runs []string) {
	var run strings.Builder
	flush := func() {
		if run.Len() > 1 {
			runs = append(runs, squeeze(run.String()))
		}
		run.Reset()
	}
	for _, field := range strings.Fields(fold(s)) {
		var all strings.Builder
		for _, w := range strings.FieldsFunc(field, notLetter) {
			words = append(words, squeeze(w))
			all.WriteString(w)
		}
		if all.Len() == 0 {
			continue
		}
		j := squeeze(all.String())
		joined = append(joined, j)
		if len([]rune(j)) == 1 {
			run.WriteString(j)
		} else {
			flush()
		}
	}
	flush()
	return words, joined, runs
}

func notLetter(r rune) bool { return !unicode.IsLetter(r) }

// Words is s's words in their normalized spelling, split at every
// non-letter: what repeated-text rules compare.
func Words(s string) []string {
	words, _, _ := spellings(s)
	return words
}

// bannedWord is one entry of a rule set's banned_words, normalized: its
// words, and whether its last word also matches longer words ("hate*").
type bannedWord struct {
	raw    string
	words  []string
	prefix bool
}

func newBannedWord(raw string) (bannedWord, bool) {
	b := bannedWord{raw: strings.TrimSpace(raw)}
	s := b.raw
	if strings.HasSuffix(s, "*") {
		b.prefix, s = true, strings.TrimSuffix(s, "*")
	}
	b.words = Words(s)
	return b, len(b.words) > 0
}

// in reports whether b's words stand in a row in words.
func (b bannedWord) in(words []string) bool {
	n := len(b.words)
	for i := 0; i+n <= len(words); i++ {
		ok := true
		for j, w := range b.words {
			last := j == n-1
			if words[i+j] != w && !(last && b.prefix && strings.HasPrefix(words[i+j], w)) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// findBanned returns the first of banned found in text, in any spelling.
func findBanned(banned []bannedWord, text string) (bannedWord, bool) {
	if len(banned) == 0 {
		return bannedWord{}, false
	}
	words, joined, runs := spellings(text)
	for _, b := range banned {
		if b.in(words) || b.in(joined) {
			return b, true
		}
		whole := squeeze(strings.Join(b.words, ""))
		for _, r := range runs {
			if strings.Contains(r, whole) {
				return b, true
			}
		}
	}
	return bannedWord{}, false
}

// mostlyRepeated reports a text of at least minWords words whose distinct
// words are fewer than ratio of all its words: "buy now buy now buy now…".
func mostlyRepeated(words []string, ratio float64) bool {
	const minWords = 8
	if len(words) < minWords || ratio <= 0 {
		return false
	}
	distinct := map[string]bool{}
	for _, w := range words {
		distinct[w] = true
	}
	return float64(len(distinct)) < ratio*float64(len(words))
}
