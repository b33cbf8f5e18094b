package enricher

import (
	"reflect"
	"testing"
)

func TestTerms(t *testing.T) {
	for in, want := range map[string][]string{
		"Humidifiers":            {"humidifier"},
		"  best   HUMIDIFIER!! ": {"best", "humidifier"},
		"batteries & boxes":      {"battery", "box"},
		"glasses":                {"glass"},
		"cactus bus":             {"cactus", "bus"},
		"tea-kettles":            {"tea", "kettle"},
		"":                       {},
	} {
		if got := terms(in); !reflect.DeepEqual(got, want) {
			t.Errorf("terms(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestMatchSearch(t *testing.T) {
	promos := []promotion{
		{ID: "hum", Priority: 10, Keywords: [][]string{terms("humidifier"), terms("mist maker")}},
		{ID: "filter", Priority: 5, Keywords: [][]string{terms("humidifier filter")}},
		{ID: "kettle", Priority: 10, Keywords: [][]string{terms("kettle")}},
	}
	for search, want := range map[string][]string{
		"humidifier":          {"hum"},
		"Humidifiers":         {"hum"},
		"HUMIDIFIER filters":  {"hum", "filter"},
		"mist makers":         {"hum"},
		"maker mist":          nil,
		"electric tea kettle": {"kettle"},
		"fan":                 nil,
	} {
		var got []string
		for _, p := range matchSearch(promos, search) {
			got = append(got, p.ID)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("search %q matched %v, want %v", search, got, want)
		}
	}
}

func TestSamePage(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"https://shop.example/demo/search.html?q=humidifier", "/demo/search.html?q=humidifier", true},
		{"/p/kettle/", "/p/kettle", true},
		{"/p/kettle?a=1&b=2", "/p/kettle?b=2&a=1", true},
		{"/p/kettle", "/p/fan", false},
		{"", "/p/fan", false},
	} {
		if got := samePage(tt.a, tt.b); got != tt.want {
			t.Errorf("samePage(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

func TestMatchClick(t *testing.T) {
	promos := []promotion{
		newPromotion("kettle", "/demo/search.html?q=kettle", 10, nil),
		newPromotion("welcome", "/demo/index.html", 100, nil),
		newPromotion("shipping", "/demo/index.html", 50, nil),
		newPromotion("broken", "", 1, nil),
	}
	for href, want := range map[string][]string{
		"https://shop.example/demo/search.html?q=kettle": {"kettle"},
		"/demo/index.html/":       {"welcome", "shipping"},
		"/demo/search.html?q=fan": nil,
		"":                        nil,
		"https://shop.example":    nil,
	} {
		var got []string
		for _, p := range matchClick(promos, href) {
			got = append(got, p.ID)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("click on %q matched %v, want %v", href, got, want)
		}
	}
}
