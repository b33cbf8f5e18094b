package event

import (
	"encoding/json"
	"unicode/utf8"
)

// A beacon's event is plain: its names are the envelope's own, spelled
// exactly, once each; its numbers are
// integers where the envelope wants them; props hold strings, numbers and
// booleans. fastDecoder reads such an event in one pass, with no
// reflection and no separate duplicate scan, and gives up at the first
// byte outside that shape (a name escaped, in another case or unknown,
// a name twice, null, a type error, anything that is not JSON), leaving
// the event to encoding/json and duplicateKey, which then decide as
// before. So it accepts a subset of what they accept and fills the Event
// as json.Unmarshal does: the fuzz targets FuzzDecodeEvent and
// FuzzDecodeBatch hold the two equal on every input they run. In record
// mode (DecodeRecord, record.go) it also reads the fields the collector
// stamps, and gives up to json.Unmarshal alone. String values with escapes
// (a URL's & as \u0026, as Go's encoders write it) are unescaped as
// encoding/json does, lone surrogates becoming U+FFFD (unquote).
//
// The event's strings are cut from one copy of its text (of the whole
// batch, under DecodeBatch): one allocation rather than one a string. So
// a string of a decoded event holds the whole text in memory; code that
// keeps one past the request (a cache key, say) keeps a strings.Clone.
type fastDecoder struct {
	data   []byte
	text   string // data as a string
	i      int
	nameAt int // where the last string scanned by name starts

	// record is DecodeRecord's mode: the stamped fields and escaped
	// strings too (record.go).
	record bool
}

// decodeFast fills e from raw and reports whether it could; false leaves
// e in any state.
func decodeFast(raw []byte, e *Event) bool {
	d := fastDecoder{data: raw, text: string(raw)}
	if !d.object(d.eventField(e)) {
		return false
	}
	d.space()
	return d.i == len(d.data)
}

// eventField decodes the value of one of the event's names.
func (d *fastDecoder) eventField(e *Event) func(name []byte) bool {
	return func(name []byte) bool {
		switch string(name) {
		case "id":
			return d.str(&e.ID)
		case "type":
			var s string
			ok := d.str(&s)
			e.Type = Type(s)
			return ok
		case "name":
			return d.str(&e.Name)
		case "ts":
			return d.int64(&e.TS)
		case "anonymous_id":
			return d.str(&e.AnonymousID)
		case "user_id":
			return d.str(&e.UserID)
		case "session_id":
			return d.str(&e.SessionID)
		case "page":
			p := new(Page)
			e.Page = p
			return d.strings([]string{"url", "path", "title", "referrer"}, []*string{&p.URL, &p.Path, &p.Title, &p.Referrer})
		case "search":
			s := new(SearchDetail)
			e.Search = s
			return d.object(func(name []byte) bool {
				switch string(name) {
				case "keyword":
					return d.str(&s.Keyword)
				case "results":
					var n int64
					ok := d.int64(&n) && fitsInt(n)
					r := int(n)
					s.Results = &r
					return ok
				}
				return false
			})
		case "click":
			c := new(ClickDetail)
			e.Click = c
			return d.strings([]string{"selector", "text", "href", "tag"}, []*string{&c.Selector, &c.Text, &c.Href, &c.Tag})
		case "scroll":
			s := new(ScrollDetail)
			e.Scroll = s
			return d.object(func(name []byte) bool {
				var n int64
				ok := string(name) == "depth_pct" && d.int64(&n) && fitsInt(n)
				s.DepthPct = int(n)
				return ok
			})
		case "form":
			f := new(FormDetail)
			e.Form = f
			return d.strings([]string{"form_id", "action"}, []*string{&f.FormID, &f.Action})
		case "props":
			return d.props(&e.Props)
		case "context":
			c := new(Context)
			e.Context = c
			return d.object(func(name []byte) bool {
				switch string(name) {
				case "locale":
					return d.str(&c.Locale)
				case "tz":
					return d.str(&c.TZ)
				case "screen":
					return d.str(&c.Screen)
				case "utm":
					u := new(UTM)
					c.UTM = u
					return d.strings([]string{"source", "medium", "campaign", "term", "content"}, []*string{&u.Source, &u.Medium, &u.Campaign, &u.Term, &u.Content})
				}
				return false
			})
		}
		// The fields the server stamps or derives are the client's to send
		// as well (and overwritten), but a beacon does not: encoding/json
		// decodes them. A record holds them, written by the collector.
		if d.record {
			return d.stampedField(e, name)
		}
		return false
	}
}

// strings decodes an object whose fields, names[i] into fields[i], are
// all strings.
func (d *fastDecoder) strings(names []string, fields []*string) bool {
	return d.object(func(name []byte) bool {
		for i, n := range names {
			if n == string(name) {
				return d.str(fields[i])
			}
		}
		return false
	})
}

// object decodes the object at d.i, each value by field, which returns
// false for a name it does not know. A name twice gives up.
func (d *fastDecoder) object(field func(name []byte) bool) bool {
	d.space()
	if !d.byte('{') {
		return false
	}
	var small [32][]byte // the names of a record too, without a slice on the heap
	seen := small[:0]
	d.space()
	if d.byte('}') {
		return true
	}
	for {
		d.space()
		name, ok := d.name()
		if !ok {
			return false
		}
		for _, n := range seen {
			if string(n) == string(name) {
				return false
			}
		}
		seen = append(seen, name)
		d.space()
		if !d.byte(':') {
			return false
		}
		d.space()
		if !field(name) {
			return false
		}
		d.space()
		if d.byte('}') {
			return true
		}
		if !d.byte(',') {
			return false
		}
	}
}

// props decodes flat props; none ({}) are nil, as Props.UnmarshalJSON
// leaves them.
func (d *fastDecoder) props(p *Props) bool {
	var m Props
	ok := d.object(func(b []byte) bool {
		if m == nil {
			m = make(Props, 4)
		}
		name := d.text[d.nameAt : d.nameAt+len(b)]
		if _, dup := m[name]; dup { // props' names compare exactly
			return false
		}
		if d.i >= len(d.data) {
			return false
		}
		switch c := d.data[d.i]; {
		case c == '"':
			var s string
			ok := d.str(&s)
			m[name] = s
			return ok
		case c == 't' || c == 'f':
			var b bool
			if !d.bool(&b) {
				return false
			}
			m[name] = b
			return true
		}
		n, ok := d.number()
		m[name] = json.Number(d.text[d.i-len(n) : d.i])
		return ok
	})
	*p = m
	return ok
}

func (d *fastDecoder) byte(c byte) bool {
	if d.i < len(d.data) && d.data[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *fastDecoder) space() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// str decodes a string with no control characters; the text is valid
// UTF-8 (DecodeEvent checked), so one without escapes is taken as it is,
// as encoding/json takes it, and one with escapes is unquoted.
func (d *fastDecoder) str(dst *string) bool {
	start := d.i
	if _, ok := d.name(); ok {
		*dst = d.text[d.nameAt : d.i-1]
		return true
	}
	if d.i >= len(d.data) || d.data[d.i] != '\\' {
		return false
	}
	d.i = start
	return d.unquote(dst)
}

// name scans a string as str does, and returns its bytes.
func (d *fastDecoder) name() ([]byte, bool) {
	if !d.byte('"') {
		return nil, false
	}
	start := d.i
	d.nameAt = start
	for ; d.i < len(d.data); d.i++ {
		switch c := d.data[d.i]; {
		case c == '"':
			d.i++
			return d.data[start : d.i-1], true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// number scans a JSON number literal.
func (d *fastDecoder) number() ([]byte, bool) {
	start := d.i
	for d.i < len(d.data) {
		switch c := d.data[d.i]; {
		case '0' <= c && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			d.i++
			continue
		}
		break
	}
	n := d.data[start:d.i]
	return n, isValidNumber(string(n))
}

// int64 decodes an integer literal of at most 18 digits, which always
// fits; 1.0, 1e3 and longer ones go to encoding/json, which decides with
// its own words.
func (d *fastDecoder) int64(dst *int64) bool {
	n, ok := d.number()
	if !ok {
		return false
	}
	neg := n[0] == '-'
	if neg {
		n = n[1:]
	}
	if len(n) > 18 {
		return false
	}
	var v int64
	for _, c := range n {
		if c < '0' || c > '9' {
			return false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	*dst = v
	return true
}

// fitsInt reports whether n is an int here, where encoding/json would
// otherwise refuse it (a 32-bit platform).
func fitsInt(n int64) bool { return int64(int(n)) == n }

func (d *fastDecoder) bool(dst *bool) bool {
	rest := d.data[d.i:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		*dst, d.i = true, d.i+4
	case len(rest) >= 5 && string(rest[:5]) == "false":
		*dst, d.i = false, d.i+5
	default:
		return false
	}
	return true
}

// decodeBatchFast reads a batch envelope in the beacon's shape (exactly
// "site", "events" and "sent_at", once each, the site a plain string, the
// events objects, sent_at an integer). It decodes each event as
// decodeFast does on the way, which also proves the event JSON; an event
// it cannot decode is checked with json.Valid and left to DecodeEvent. The
// events are slices of body rather than copies. Anything else is left to
// encoding/json (false), as in decodeFast.
func decodeBatchFast(body []byte) (*Batch, bool) {
	// One copy of the body for the strings of all its events: they live
	// as long as the request.
	d := fastDecoder{data: body, text: string(body)}
	var b Batch
	ok := d.object(func(name []byte) bool {
		switch string(name) {
		case "site":
			s, ok := d.name()
			if !ok || !utf8.Valid(s) { // encoding/json would make bad bytes U+FFFD
				return false
			}
			b.Site = string(s)
			return true
		case "sent_at":
			return d.int64(&b.SentAt)
		case "events":
			return d.events(&b)
		}
		return false
	})
	d.space()
	return &b, ok && d.i == len(d.data)
}

// events cuts the objects of an array out of d.data and decodes them in
// the same pass; an event decodeFast could not read is skipped over. []
// is an empty slice, not nil, as encoding/json leaves it.
func (d *fastDecoder) events(b *Batch) bool {
	if !d.byte('[') {
		return false
	}
	evs := make([]json.RawMessage, 0, 16)
	decoded := make([]*Event, 0, 16)
	for d.space(); !d.byte(']'); d.space() {
		if len(evs) > 0 && !d.byte(',') {
			return false
		}
		d.space()
		if d.i >= len(d.data) || d.data[d.i] != '{' {
			return false
		}
		start, e := d.i, new(Event)
		if !d.object(d.eventField(e)) {
			s := keyScanner{data: d.data, i: start}
			s.skip()
			if !json.Valid(d.data[start:s.i]) {
				return false
			}
			d.i, e = s.i, nil
		}
		raw := d.data[start:d.i:d.i]
		if !utf8.Valid(raw) { // JSON all the same; DecodeEvent refuses it
			e = nil
		}
		evs = append(evs, raw)
		decoded = append(decoded, e)
	}
	b.Events, b.decoded = evs, decoded
	return true
}
