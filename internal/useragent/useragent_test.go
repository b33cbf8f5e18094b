package useragent

import (
	"strings"
	"testing"

	"github.com/footfall/footfall/internal/event"
)

// known are real headers of the browsers and bots a European shop sees,
// with what reports must show for them. The vocabulary is the one the
// dashboards, the Grafana panels and the rollups already group by.
var known = []struct {
	ua   string
	want Agent // UA is filled in by the test
}{
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", Agent{Browser: "Chrome", OS: "Windows", Device: "desktop"}},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", Agent{Browser: "Edge", OS: "Windows", Device: "desktop"}},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", Agent{Browser: "Firefox", OS: "Windows", Device: "desktop"}},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0", Agent{Browser: "Opera", OS: "Windows", Device: "desktop"}},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", Agent{Browser: "Chrome", OS: "macOS", Device: "desktop"}},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", Agent{Browser: "Safari", OS: "macOS", Device: "desktop"}},
	{"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", Agent{Browser: "Firefox", OS: "Linux", Device: "desktop"}},
	{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", Agent{Browser: "Chrome", OS: "ChromeOS", Device: "desktop"}},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", Agent{Browser: "Safari", OS: "iOS", Device: "mobile"}},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", Agent{Browser: "Chrome", OS: "iOS", Device: "mobile"}},
	{"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", Agent{Browser: "Chrome", OS: "Android", Device: "mobile"}},
	{"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", Agent{Browser: "Samsung Browser", OS: "Android", Device: "mobile"}},
	{"Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0", Agent{Browser: "Firefox", OS: "Android", Device: "mobile"}},
	{"Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", Agent{Browser: "Safari", OS: "iOS", Device: "tablet"}},
	{"Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", Agent{Browser: "Chrome", OS: "Android", Device: "tablet"}},
	{"Mozilla/5.0 (Android 14; Tablet; rv:133.0) Gecko/133.0 Firefox/133.0", Agent{Browser: "Firefox", OS: "Android", Device: "tablet"}},
	{"Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36", Agent{Browser: "Samsung Browser", OS: "Linux", Device: "tv"}},

	// Bots keep the browser they imitate; their device is always bot.
	{"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", Agent{Bot: true, Browser: "Chrome", OS: "Android", Device: "bot"}},
	{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", Agent{Bot: true, Browser: "other", OS: "other", Device: "bot"}},
	{"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/131.0.0.0 Safari/537.36", Agent{Bot: true, Browser: "Chrome", OS: "other", Device: "bot"}},
	{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", Agent{Bot: true, Browser: "Chrome", OS: "Linux", Device: "bot"}},
	{"Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse", Agent{Bot: true, Browser: "Chrome", OS: "Android", Device: "bot"}},
	{"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)", Agent{Bot: true, Browser: "Safari", OS: "other", Device: "bot"}},
	{"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", Agent{Bot: true, Browser: "other", OS: "other", Device: "bot"}},
	{"python-requests/2.32.3", Agent{Bot: true, Browser: "other", OS: "other", Device: "bot"}},
	{"curl/8.5.0", Agent{Bot: true, Browser: "other", OS: "other", Device: "bot"}},
	{"", Agent{Bot: true, Browser: "other", OS: "other", Device: "bot"}},
}

func TestParse(t *testing.T) {
	c := NewCache(8)
	for _, tt := range known {
		want := tt.want
		want.UA = tt.ua
		if got := Parse(tt.ua); got != want {
			t.Errorf("Parse(%q)\n = %+v\nwant %+v", tt.ua, got, want)
		}
		for range 2 { // a miss, then a hit
			if got := c.Parse(tt.ua); got != want {
				t.Errorf("Cache.Parse(%q) = %+v, want %+v", tt.ua, got, want)
			}
		}
	}
}

func TestLongHeaderIsABotAndCut(t *testing.T) {
	ua := "Mozilla/5.0 (Windows NT 10.0) " + strings.Repeat("é", MaxBytes)
	a := NewCache(8).Parse(ua)
	if !a.Bot || a.Device != DeviceBot || len(a.UA) > MaxBytes || !strings.HasPrefix(ua, a.UA) {
		t.Fatalf("Parse of a %d-byte header = bot %v, device %s, %d bytes kept", len(ua), a.Bot, a.Device, len(a.UA))
	}
	if strings.ContainsRune(a.UA, '\uFFFD') || !strings.HasSuffix(a.UA, "é") {
		t.Errorf("the kept header ends inside a UTF-8 sequence: %q", a.UA[len(a.UA)-4:])
	}
}

func TestStamp(t *testing.T) {
	var e event.Event
	Parse(known[0].ua).Stamp(&e)
	if e.UserAgent != known[0].ua || e.Bot || e.Browser != "Chrome" || e.OS != "Windows" || e.Device != "desktop" {
		t.Errorf("stamped %+v", e)
	}
}

var sink Agent

// BenchmarkParse measures a header's cost on the collector's hot path:
// uncached (a header seen for the first time: both libraries) and cached
// (a header seen lately). The baseline is the browser library alone.
func BenchmarkParse(b *testing.B) {
	b.Run("uncached", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			sink = Parse(known[i%len(known)].ua)
		}
	})
	b.Run("cached", func(b *testing.B) {
		c := NewCache(DefaultCacheSize)
		for i := 0; b.Loop(); i++ {
			sink = c.Parse(known[i%len(known)].ua)
		}
	})
}

func BenchmarkParseBaseline(b *testing.B) {
	run := func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			m := parser.Parse(known[i%len(known)].ua)
			sink.Browser = string(m.Browser())
		}
	}
	b.Run("uncached", run)
	b.Run("cached", run)
}
