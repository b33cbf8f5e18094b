package generate

import "github.com/footfall/footfall/internal/useragent"

// agent is one browser build as visitors send it, stamped by the function
// the collector stamps events with, so generated data reads as collected
// data does.
type agent struct {
	useragent.Agent
	weight float64
}

func stamped(weight float64, ua string) agent {
	return agent{Agent: useragent.Parse(ua), weight: weight}
}

// people are the browsers of human visitors, weighted by a European
// shop's typical share (about half mobile).
var people = []agent{
	stamped(24, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"),
	stamped(8, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"),
	stamped(4, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"),
	stamped(1, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0"),
	stamped(7, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"),
	stamped(6, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15"),
	stamped(1.5, "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"),
	stamped(22, "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"),
	stamped(3, "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1"),
	stamped(16, "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"),
	stamped(4, "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36"),
	stamped(3.5, "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"),
}

// crawlers run the beacon too: search engines render pages with
// JavaScript, and scripted browsers test or scrape the shop.
var crawlers = []agent{
	stamped(40, "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
	stamped(20, "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/131.0.0.0 Safari/537.36"),
	stamped(25, "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36"),
	stamped(10, "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"),
	stamped(5, "python-requests/2.32.3"),
}

// locale is a visitor's language and time zone, as the beacon reads them.
type locale struct {
	lang, tz string
	weight   float64
}

var locales = []locale{
	{"de-DE", "Europe/Berlin", 35},
	{"en-GB", "Europe/London", 20},
	{"en-US", "America/New_York", 15},
	{"fr-FR", "Europe/Paris", 10},
	{"nl-NL", "Europe/Amsterdam", 8},
	{"es-ES", "Europe/Madrid", 7},
	{"it-IT", "Europe/Rome", 5},
}

// screens by device, most common first.
var screens = map[string][]string{
	"desktop": {"1920x1080", "1536x864", "2560x1440", "1440x900", "1366x768"},
	"mobile":  {"390x844", "393x873", "412x915", "360x800", "430x932"},
	"tablet":  {"820x1180", "768x1024", "1024x1366"},
	"bot":     {"412x732", "1920x1080", "800x600"},
}
