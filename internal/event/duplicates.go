package event

import (
	"bytes"
	"encoding/json"
	"unicode"
	"unicode/utf8"
)

// JSON leaves an object with a name twice undefined (RFC 8259 §4), and
// parsers differ: encoding/json keeps the last value, others the first. A
// proxy, a WAF or a consumer reading the raw event could then see another
// type, id or user than Footfall did. So an event with a name twice in any
// of its objects is rejected rather than guessed at.
//
// Names are compared as encoding/json matches them to struct fields:
// ignoring case, with Unicode simple folding ("ſ" is "s", "K" is "k"),
// after unescaping ("\u0074ype" is "type"), since {"type":…,"TYPE":…}
// fills one field twice just as {"type":…,"type":…} does. The names inside
// props are the client's own data and are compared exactly: "Color" and
// "color" are two props.

// smallObject is how many names an object may have before the duplicate
// check uses a map instead of comparing each name with the ones before it.
const smallObject = 16

// keyScanner walks a valid JSON text looking for a duplicate name. Given
// anything else it still ends, with an answer that means nothing.
type keyScanner struct {
	data []byte
	i    int
}

// How the names of an object are checked.
type nameCheck uint8

const (
	checkNone  nameCheck = iota // below the batch envelope: each event is checked alone
	checkFold                   // names the decoder matches to struct fields
	checkExact                  // the keys of props
)

// duplicateKey returns the path ("page.url", "props.Color") of the first
// name that occurs twice in an object of data, a valid JSON text. With
// topOnly, only the names of the outermost object are checked: the batch
// envelope, whose events are checked one by one.
func duplicateKey(data []byte, topOnly bool) (string, bool) {
	s := keyScanner{data: data}
	below := checkFold
	if topOnly {
		below = checkNone
	}
	s.space()
	if s.i >= len(s.data) || s.data[s.i] != '{' {
		return s.value(below)
	}
	return s.object(checkFold, below, true)
}

// value scans the value at s.i; check applies to the objects within it.
func (s *keyScanner) value(check nameCheck) (string, bool) {
	s.space()
	if s.i >= len(s.data) {
		return "", false
	}
	if check == checkNone {
		s.skip()
		return "", false
	}
	switch s.data[s.i] {
	case '{':
		return s.object(check, check, false)
	case '[':
		s.i++
		for {
			s.space()
			if s.i >= len(s.data) || s.data[s.i] == ']' {
				s.i++
				return "", false
			}
			if path, dup := s.value(check); dup {
				return "[]." + path, true
			}
			s.space()
			if s.i < len(s.data) && s.data[s.i] == ',' {
				s.i++
			}
		}
	case '"':
		s.str()
	default: // number, true, false, null
		start := s.i
		for s.i < len(s.data) && !isDelim(s.data[s.i]) {
			s.i++
		}
		if s.i == start { // not JSON: a byte at a time, so that every loop ends
			s.i++
		}
	}
	return "", false
}

// object scans the object at s.i, checking its names by check and the
// objects within it by below. In the event itself (top), the value of
// props has its names compared exactly.
func (s *keyScanner) object(check, below nameCheck, top bool) (string, bool) {
	var small [smallObject][]byte
	names := small[:0]
	var set map[string]struct{}
	s.i++
	for {
		s.space()
		if s.i >= len(s.data) || s.data[s.i] == '}' {
			s.i++
			return "", false
		}
		name := s.str()
		if name == nil { // not JSON: no name where one must be
			return "", false
		}
		if check != checkNone {
			var dup bool
			if names, dup = seen(name, check == checkExact, names, &set); dup {
				return string(name), true
			}
		}
		s.space()
		s.i++ // ':'
		inner := below
		if top && below == checkFold && bytes.EqualFold(name, []byte("props")) {
			inner = checkExact
		}
		if path, dup := s.value(inner); dup {
			return string(name) + "." + path, true
		}
		s.space()
		if s.i < len(s.data) && s.data[s.i] == ',' {
			s.i++
		}
	}
}

// seen records name among the names of one object, the first ones in
// names and past smallObject in set, and reports whether an equal one was
// there before.
func seen(name []byte, exact bool, names [][]byte, set *map[string]struct{}) ([][]byte, bool) {
	if *set == nil && len(names) < smallObject {
		for _, n := range names {
			if exact && bytes.Equal(n, name) || !exact && bytes.EqualFold(n, name) {
				return names, true
			}
		}
		return append(names, name), false
	}
	if *set == nil {
		*set = make(map[string]struct{}, 2*smallObject)
		for _, n := range names {
			(*set)[keyOf(n, exact)] = struct{}{}
		}
	}
	k := keyOf(name, exact)
	if _, ok := (*set)[k]; ok {
		return names, true
	}
	(*set)[k] = struct{}{}
	return names, false
}

// str scans the string at s.i and returns its unescaped bytes, nil when
// s.i is not at a string.
func (s *keyScanner) str() []byte {
	if s.i >= len(s.data) || s.data[s.i] != '"' {
		return nil
	}
	start, escaped := s.i, false
	for s.i++; s.i < len(s.data); s.i++ {
		switch s.data[s.i] {
		case '\\':
			escaped = true
			s.i++
		case '"':
			s.i++
			raw := s.data[start:s.i]
			if !escaped {
				return raw[1 : len(raw)-1]
			}
			var v string
			if json.Unmarshal(raw, &v) != nil {
				return raw
			}
			return []byte(v)
		}
	}
	return s.data[start:]
}

// skip moves past the value at s.i without looking at its names: the
// events of a batch, checked one by one later, need not be unescaped
// here.
func (s *keyScanner) skip() {
	start, depth := s.i, 0
	for s.i < len(s.data) {
		c := s.data[s.i]
		if depth == 0 && s.i > start && (isDelim(c) || c == '"' || c == '{' || c == '[') {
			break // the end of a number or literal
		}
		switch c {
		case '"':
			for s.i++; s.i < len(s.data) && s.data[s.i] != '"'; s.i++ {
				if s.data[s.i] == '\\' {
					s.i++
				}
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
		s.i++
		if depth <= 0 && (c == '"' || c == '}' || c == ']' || isDelim(c)) {
			break // a string or container ends, or (not JSON) no value at all
		}
	}
}

func (s *keyScanner) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func isDelim(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// keyOf is name as a map key: itself when compared exactly, else folded so
// that keyOf(a) == keyOf(b) exactly when bytes.EqualFold(a, b).
func keyOf(name []byte, exact bool) string {
	if exact {
		return string(name)
	}
	out := make([]byte, 0, len(name))
	for i := 0; i < len(name); {
		c := name[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(name[i:])
		out = utf8.AppendRune(out, foldRune(r))
		i += n
	}
	return string(out)
}

// foldRune is the smallest rune of r's case-folding orbit, as
// encoding/json folds names.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}
