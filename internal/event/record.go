package event

import (
	"encoding/json"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// DecodeRecord decodes a Kafka record's value into e exactly as
// json.Unmarshal(value, e) does, result and error. The consumers decode
// every event the collector published, and encoding/json was the largest
// part of their CPU (docs/benchmarks.md, "Loader sink"); what AppendJSON
// writes is plain, so the one-pass decoder of fastdecode.go reads it, in
// record mode: the collector's stamped fields as well as the client's,
// and strings with escapes (json.Marshal writes & < > as \u0026 and so
// on, and URLs hold them). Anything else, and any e that is not the zero
// Event (json.Unmarshal merges into it), goes to json.Unmarshal.
// FuzzDecodeRecord holds the two equal.
//
// As with DecodeEvent, the unescaped strings of e are cut from one copy
// of value.
func DecodeRecord(value []byte, e *Event) error {
	if isZeroEvent(e) {
		var fast Event
		if decodeRecordFast(value, &fast) {
			*e = fast
			return nil
		}
	}
	return json.Unmarshal(value, e)
}

// decodeRecordFast fills e from value in record mode and reports whether
// it could; false leaves e in any state.
func decodeRecordFast(value []byte, e *Event) bool {
	if !utf8.Valid(value) { // encoding/json would make bad bytes U+FFFD
		return false
	}
	d := fastDecoder{data: value, text: string(value), record: true}
	if !d.object(d.eventField(e)) {
		return false
	}
	d.space()
	return d.i == len(d.data)
}

// stampedField decodes the value of one of the names the collector
// stamps; the client decoding leaves them to encoding/json.
func (d *fastDecoder) stampedField(e *Event, name []byte) bool {
	switch string(name) {
	case "original_ts":
		return d.int64(&e.OriginalTS)
	case "user_verified":
		return d.bool(&e.UserVerified)
	case "received_at":
		return d.int64(&e.ReceivedAt)
	case "site_id":
		return d.str(&e.SiteID)
	case "ip":
		return d.str(&e.IP)
	case "user_agent":
		return d.str(&e.UserAgent)
	case "bot":
		return d.bool(&e.Bot)
	case "browser":
		return d.str(&e.Browser)
	case "os":
		return d.str(&e.OS)
	case "device":
		return d.str(&e.Device)
	case "page_url":
		return d.str(&e.PageURL)
	case "search_keyword":
		return d.str(&e.SearchKeyword)
	case "date":
		return d.int64(&e.Date)
	}
	return false
}

// unquote decodes the string at d.i, escapes and all, as encoding/json
// does: a \u escape of a surrogate not followed by the other half of its
// pair is U+FFFD, and the escape after it is read on its own. The text
// is valid UTF-8 (DecodeRecord checked), so other bytes are taken as
// they are. Anything that is not a JSON string gives up.
func (d *fastDecoder) unquote(dst *string) bool {
	if !d.byte('"') {
		return false
	}
	buf := make([]byte, 0, 64)
	for d.i < len(d.data) {
		c := d.data[d.i]
		switch {
		case c == '"':
			d.i++
			*dst = string(buf)
			return true
		case c < 0x20:
			return false
		case c != '\\':
			buf = append(buf, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.data) {
			return false
		}
		switch c := d.data[d.i+1]; c {
		case '"', '\\', '/':
			buf = append(buf, c)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := d.hex4(d.i + 2)
			if !ok {
				return false
			}
			d.i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := d.hex4(d.i + 2); ok && d.data[d.i] == '\\' && d.data[d.i+1] == 'u' {
					if pair := utf16.DecodeRune(r, r2); pair != unicode.ReplacementChar {
						buf = utf8.AppendRune(buf, pair)
						d.i += 6
						continue
					}
				}
				r = unicode.ReplacementChar
			}
			buf = utf8.AppendRune(buf, r)
			continue
		default:
			return false
		}
		d.i += 2
	}
	return false
}

// hex4 reads the four hex digits at data[at:].
func (d *fastDecoder) hex4(at int) (rune, bool) {
	if at+4 > len(d.data) {
		return 0, false
	}
	var r rune
	for _, c := range d.data[at : at+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// isZeroEvent reports whether e is the zero Event, into which
// json.Unmarshal merges nothing. TestIsZeroEvent checks it knows every
// field.
func isZeroEvent(e *Event) bool {
	return e.ID == "" && e.Type == "" && e.Name == "" && e.TS == 0 &&
		e.AnonymousID == "" && e.UserID == "" && e.SessionID == "" &&
		e.Page == nil && e.Search == nil && e.Click == nil && e.Scroll == nil &&
		e.Form == nil && e.Props == nil && e.Context == nil &&
		e.OriginalTS == 0 && !e.UserVerified && e.ReceivedAt == 0 && e.SiteID == "" &&
		e.IP == "" && e.UserAgent == "" && !e.Bot && e.Browser == "" && e.OS == "" &&
		e.Device == "" && e.PageURL == "" && e.SearchKeyword == "" && e.Date == 0
}
