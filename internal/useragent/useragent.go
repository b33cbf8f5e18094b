// Package useragent derives what Footfall reports about a visitor's browser
// from its User-Agent header: the browser and OS families dashboards group
// by, the kind of device, and whether a bot sent it. The collector stamps
// every event with it, and `footfall generate` stamps its synthetic events
// with the same function, so both agree on every value.
//
// Two maintained libraries do the work, each for what it is good at:
//
//   - github.com/medama-io/go-useragent (kept by the Medama analytics
//     project) names browser, OS and device with a token trie: about
//     0.6 µs and one allocation per header, against about 3 µs and 15
//     allocations for github.com/mileusna/useragent and about 1 ms for
//     github.com/ua-parser/uap-go's regular expressions (which also starts
//     three goroutines per header and names no device type). See
//     docs/benchmarks.md for the numbers and how to repeat them.
//   - github.com/x-way/crawlerdetect carries CrawlerDetect's list of more
//     than a thousand bot patterns. It is one large regular expression:
//     a few hundred µs per header, which is why Cache keeps the answers
//     for recent headers.
package useragent

import (
	"strings"
	"unicode/utf8"

	medama "github.com/medama-io/go-useragent"
	"github.com/medama-io/go-useragent/agents"
	"github.com/x-way/crawlerdetect"

	"github.com/footfall/footfall/internal/event"
)

// MaxBytes bounds the User-Agent an event keeps and the parsers read. No
// browser sends a longer one (Chrome's is about 120 bytes, in-app browsers'
// the longest at about 350); a longer header is stamped as a bot without
// parsing. The bot patterns cost about 4 µs per byte of a header not seen
// lately, so this bounds what one request can cost (about 2 ms), and no
// client can have every event of its batch carry a megabyte into Kafka.
const MaxBytes = 512

// The values stamped when nothing better is known.
const (
	Other     = "other" // browser, OS or device the parser does not know
	DeviceBot = "bot"   // the device of every bot, whatever it imitates
)

// Agent is what Footfall derives from one User-Agent header.
type Agent struct {
	// UA is the header as events keep it: cut to MaxBytes.
	UA  string
	Bot bool
	// Browser is a family: Chrome, Safari, Edge, Firefox, Opera, Samsung
	// Browser, Yandex Browser, ...; Other when unknown.
	Browser string
	// OS is a family: Windows, macOS, iOS, Android, Linux, ChromeOS, ...;
	// Other when unknown.
	OS string
	// Device is desktop, mobile, tablet or tv; bot for every bot; Other
	// when unknown.
	Device string
}

// Stamp sets e's user-agent fields.
func (a Agent) Stamp(e *event.Event) {
	e.UserAgent, e.Bot, e.Browser, e.OS, e.Device = a.UA, a.Bot, a.Browser, a.OS, a.Device
}

// Unknown is the Agent of a person whose user agent nobody gave: a server
// key's event without one. Unlike an empty header, it is no bot.
func Unknown() Agent {
	return Agent{Browser: Other, OS: Other, Device: Other}
}

// parser is read-only once built; the library builds it once per process.
var parser = medama.NewParser()

// Parse derives ua's Agent. An empty header, a longer one than MaxBytes,
// headless browsers and every client on the bot lists are bots.
func Parse(ua string) Agent {
	a := Agent{UA: ua, Browser: Other, OS: Other, Device: Other}
	if ua == "" || len(ua) > MaxBytes {
		a.UA = cut(ua, MaxBytes)
		a.Bot, a.Device = true, DeviceBot
		return a
	}
	m := parser.Parse(ua)
	a.Browser = orOther(string(m.Browser()))
	a.OS = osName(m.OS())
	a.Device = deviceName(m.Device())
	// Android phones say "Mobile"; Android tablets do not (Google's rule
	// for their browsers), which the library does not apply.
	if a.OS == "Android" && a.Device == "mobile" && !strings.Contains(ua, "Mobile") {
		a.Device = "tablet"
	}
	if m.IsBot() || crawlerdetect.IsCrawler(ua) {
		a.Bot, a.Device = true, DeviceBot
	}
	return a
}

// osName keeps the spelling Footfall's reports have always used.
func osName(os agents.OS) string {
	if os == agents.OSMacOS {
		return "macOS"
	}
	return orOther(string(os))
}

// deviceName lower-cases the library's device types, as reports group them.
func deviceName(d agents.Device) string {
	return orOther(strings.ToLower(string(d)))
}

func orOther(s string) string {
	if s == "" {
		return Other
	}
	return s
}

// cut shortens s to at most n bytes without splitting a UTF-8 sequence.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
