package loader

import "testing"

func TestClassify(t *testing.T) {
	const shop = "https://shop.example/"
	tests := []struct {
		name                       string
		referrer, landing          string
		utmSource, utmMedium       string
		source, channel, referrerW string
	}{
		{"no referrer", "", shop, "", "", "", ChannelDirect, ""},
		{"own site", "https://www.shop.example/cart", shop, "", "", "", ChannelDirect, ""},
		{"google", "https://www.google.com/search?q=humidifier", shop, "", "", "Google", ChannelOrganicSearch, "google.com/search"},
		{"bing", "https://www.bing.com/search?q=x", shop, "", "", "Bing", ChannelOrganicSearch, "bing.com/search"},
		{"google ads by click id", "https://www.google.com/", shop + "?gclid=abc", "", "", "Google", ChannelPaidSearch, "google.com"},
		{"paid medium", "", shop, "google", "cpc", "google", ChannelPaidSearch, ""},
		{"facebook", "https://www.facebook.com/", shop, "", "", "Facebook", ChannelSocial, "facebook.com"},
		{"social by utm", "", shop, "mastodon", "social", "mastodon", ChannelSocial, ""},
		{"newsletter", "", shop, "newsletter-weekly", "email", "newsletter-weekly", ChannelEmail, ""},
		{"webmail", "https://mail.google.com/mail/u/0/", shop, "", "", "Gmail", ChannelEmail, "mail.google.com/mail/u/0"},
		{"a blog", "https://blog.example.org/best-humidifiers?ref=1", shop, "", "", "blog.example.org", ChannelReferral, "blog.example.org/best-humidifiers"},
		{"utm source alone", "", shop, "partner", "", "partner", ChannelReferral, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.referrer, tt.landing, tt.utmSource, tt.utmMedium)
			if got.source != tt.source || got.channel != tt.channel || got.referrer != tt.referrerW {
				t.Fatalf("classify = %+v, want source %q channel %q referrer %q", got, tt.source, tt.channel, tt.referrerW)
			}
		})
	}
}
