package event

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends e as json.Marshal encodes it, byte for byte, and
// returns the extended buffer. The collector encodes every event it
// accepts; through reflection that was an eighth of its CPU time under
// 50-event batches (docs/benchmarks.md, "Intake: one decode, one
// encode"). TestAppendJSONIsMarshal holds the two equal, the fuzz seeds'
// events included; a field added to Event must be added here too.
func (e *Event) AppendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, e.ID)
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, string(e.Type))
	dst = appendField(dst, "name", e.Name)
	dst = append(dst, `,"ts":`...)
	dst = strconv.AppendInt(dst, e.TS, 10)
	dst = appendField(dst, "anonymous_id", e.AnonymousID)
	dst = appendField(dst, "user_id", e.UserID)
	dst = appendField(dst, "session_id", e.SessionID)
	if p := e.Page; p != nil {
		dst = append(dst, `,"page":{`...)
		dst = appendFields(dst, "url", p.URL, "path", p.Path, "title", p.Title, "referrer", p.Referrer)
		dst = append(dst, '}')
	}
	if s := e.Search; s != nil {
		dst = append(dst, `,"search":{"keyword":`...)
		dst = appendString(dst, s.Keyword)
		if s.Results != nil {
			dst = append(dst, `,"results":`...)
			dst = strconv.AppendInt(dst, int64(*s.Results), 10)
		}
		dst = append(dst, '}')
	}
	if c := e.Click; c != nil {
		dst = append(dst, `,"click":{`...)
		dst = appendFields(dst, "selector", c.Selector, "text", c.Text, "href", c.Href, "tag", c.Tag)
		dst = append(dst, '}')
	}
	if s := e.Scroll; s != nil {
		dst = append(dst, `,"scroll":{"depth_pct":`...)
		dst = strconv.AppendInt(dst, int64(s.DepthPct), 10)
		dst = append(dst, '}')
	}
	if f := e.Form; f != nil {
		dst = append(dst, `,"form":{`...)
		dst = appendFields(dst, "form_id", f.FormID, "action", f.Action)
		dst = append(dst, '}')
	}
	if len(e.Props) > 0 {
		var err error
		if dst, err = e.Props.appendJSON(append(dst, `,"props":`...)); err != nil {
			return dst, err
		}
	}
	if c := e.Context; c != nil {
		dst = append(dst, `,"context":{`...)
		dst = appendFields(dst, "locale", c.Locale, "tz", c.TZ, "screen", c.Screen)
		if u := c.UTM; u != nil {
			if dst[len(dst)-1] != '{' {
				dst = append(dst, ',')
			}
			dst = append(dst, `"utm":{`...)
			dst = appendFields(dst, "source", u.Source, "medium", u.Medium, "campaign", u.Campaign, "term", u.Term, "content", u.Content)
			dst = append(dst, '}')
		}
		dst = append(dst, '}')
	}
	dst = appendInt(dst, "original_ts", e.OriginalTS)
	dst = appendBool(dst, "user_verified", e.UserVerified)
	dst = appendInt(dst, "received_at", e.ReceivedAt)
	dst = appendField(dst, "site_id", e.SiteID)
	dst = appendField(dst, "ip", e.IP)
	dst = appendField(dst, "user_agent", e.UserAgent)
	dst = appendBool(dst, "bot", e.Bot)
	dst = appendField(dst, "browser", e.Browser)
	dst = appendField(dst, "os", e.OS)
	dst = appendField(dst, "device", e.Device)
	dst = appendField(dst, "page_url", e.PageURL)
	dst = appendField(dst, "search_keyword", e.SearchKeyword)
	dst = appendInt(dst, "date", e.Date)
	return append(dst, '}'), nil
}

// appendJSON encodes props with their keys sorted, as json.Marshal does a
// map. Strings, json.Numbers and bools, what a decoded event holds, are
// written here; anything else (a float64 of an event built in Go) by
// json.Marshal itself.
func (p Props) appendJSON(dst []byte) ([]byte, error) {
	var small [16]string
	keys := small[:0]
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(appendString(dst, k), ':')
		switch v := p[k].(type) {
		case string:
			dst = appendString(dst, v)
		case bool:
			dst = strconv.AppendBool(dst, v)
		case json.Number:
			if v == "" {
				v = "0"
			}
			if !isValidNumber(string(v)) {
				return dst, fmt.Errorf("props.%s: invalid number literal %q", k, v)
			}
			dst = append(dst, v...)
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return dst, fmt.Errorf("props.%s: %w", k, err)
			}
			dst = append(dst, b...)
		}
	}
	return append(dst, '}'), nil
}

// appendField appends a string field with omitempty; it is never the
// object's first, which is always written.
func appendField(dst []byte, name, v string) []byte {
	if v == "" {
		return dst
	}
	dst = append(append(append(dst, ",\""...), name...), "\":"...)
	return appendString(dst, v)
}

func appendInt(dst []byte, name string, v int64) []byte {
	if v == 0 {
		return dst
	}
	dst = append(append(append(dst, ",\""...), name...), "\":"...)
	return strconv.AppendInt(dst, v, 10)
}

func appendBool(dst []byte, name string, v bool) []byte {
	if !v {
		return dst
	}
	return append(append(append(dst, ",\""...), name...), "\":true"...)
}

// appendFields appends the omitempty string fields of an object whose
// '{' is already written, given as name, value pairs.
func appendFields(dst []byte, nameValues ...string) []byte {
	first := true
	for i := 0; i < len(nameValues); i += 2 {
		if nameValues[i+1] == "" {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(append(append(dst, '"'), nameValues[i]...), "\":"...)
		dst = appendString(dst, nameValues[i+1])
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// appendString is encoding/json's string encoder with HTML escaping, as
// json.Marshal uses it: <, > and & as \u003c…, control characters
// escaped, bytes that are not UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(append(dst, s[start:i]...), `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(append(dst, s[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// isValidNumber reports whether s is a JSON number literal, as
// encoding/json checks a json.Number before writing it.
func isValidNumber(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' {
		s = s[1:]
		if s == "" {
			return false
		}
	}
	switch {
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		s = s[1:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	default:
		return false
	}
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		s = s[2:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s[0] == '+' || s[0] == '-' {
			s = s[1:]
			if s == "" {
				return false
			}
		}
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	return s == ""
}
