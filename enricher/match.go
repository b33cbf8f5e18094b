package enricher

import (
	"net/url"
	"strings"
	"unicode"
)

// terms normalises text for matching: lower case, punctuation as spaces,
// runs of space collapsed, each word reduced to its singular.
func terms(s string) []string {
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	for i, w := range words {
		words[i] = singular(w)
	}
	return words
}

// singular undoes the regular English plurals, which is what shoppers type:
// humidifiers, boxes, batteries, glasses. Irregular plurals are left alone;
// a catalog can list them as keywords.
func singular(w string) string {
	switch {
	case len(w) <= 3:
		return w
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		return w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "sses"), strings.HasSuffix(w, "shes"), strings.HasSuffix(w, "ches"),
		strings.HasSuffix(w, "xes"), strings.HasSuffix(w, "zes"):
		return w[:len(w)-2]
	case strings.HasSuffix(w, "ss"), strings.HasSuffix(w, "us"), strings.HasSuffix(w, "is"):
		return w
	case strings.HasSuffix(w, "s"):
		return w[:len(w)-1]
	}
	return w
}

// contains reports whether phrase occurs as consecutive words in text.
func contains(text, phrase []string) bool {
	if len(phrase) == 0 || len(phrase) > len(text) {
		return false
	}
outer:
	for i := 0; i+len(phrase) <= len(text); i++ {
		for j := range phrase {
			if text[i+j] != phrase[j] {
				continue outer
			}
		}
		return true
	}
	return false
}

// page is a URL as a click is matched against a landing page: its path
// without a trailing slash and its query in canonical order, ignoring
// scheme, host and fragment, so a click on an absolute link matches a
// catalog's relative url. ok is false for a URL without a path.
type page struct{ path, query string }

func pageOf(s string) (p page, ok bool) {
	u, err := url.Parse(s)
	if err != nil || u.Path == "" {
		return page{}, false
	}
	return page{strings.TrimSuffix(u.Path, "/"), u.Query().Encode()}, true
}

// samePage reports whether a and b are the same page.
func samePage(a, b string) bool {
	pa, ok1 := pageOf(a)
	pb, ok2 := pageOf(b)
	return ok1 && ok2 && pa == pb
}

// matchSearch returns the promotions one of whose keywords occurs in the
// search, in catalog order.
func matchSearch(promos []promotion, keyword string) []promotion {
	t := terms(keyword)
	var out []promotion
	for _, p := range promos {
		for _, k := range p.Keywords {
			if contains(t, k) {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// matchClick returns the promotions whose landing page is the link
// clicked. The link is parsed once, the landing pages when the catalog
// was loaded: parsing both for every promotion was a fifth of the
// enricher's CPU time in a profile of its benchmark.
func matchClick(promos []promotion, href string) []promotion {
	clicked, ok := pageOf(href)
	if !ok {
		return nil
	}
	var out []promotion
	for _, p := range promos {
		if p.hasPage && p.page == clicked {
			out = append(out, p)
		}
	}
	return out
}
