package enricher

import (
	"net/url"
	"strings"
	"unicode"

	"github.com/kljensen/snowball/english"
)

// terms normalises text for matching: lower case, punctuation as spaces,
// runs of space collapsed, each word reduced to its stem, so "humidifier",
// "humidifiers" and "humidifying" are one term.
//
// The stems are the Snowball (Porter2) English stemmer's, from
// github.com/kljensen/snowball: pure Go with no dependencies, maintained
// since 2013, a faithful port of the reference algorithm (its tests run
// the reference vocabulary), and fast (no allocation beyond the word).
// Stop words are stemmed too: "tea kettle" must keep both words.
func terms(s string) []string {
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	for i, w := range words {
		words[i] = english.Stem(w, true)
	}
	return words
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

// String is the page as reasons name it: its path and query.
func (p page) String() string {
	if p.query == "" {
		return p.path
	}
	return p.path + "?" + p.query
}

// samePage reports whether a and b are the same page.
func samePage(a, b string) bool {
	pa, ok1 := pageOf(a)
	pb, ok2 := pageOf(b)
	return ok1 && ok2 && pa == pb
}

// covers reports whether the product_categories entry p covers the page
// visited: without a query, p's path and everything under it; with one,
// p's path with at least p's parameters.
func (p page) covers(visited page) bool {
	if p.query == "" {
		return visited.path == p.path || strings.HasPrefix(visited.path, p.path+"/")
	}
	if visited.path != p.path {
		return false
	}
	want, err1 := url.ParseQuery(p.query)
	have, err2 := url.ParseQuery(visited.query)
	if err1 != nil || err2 != nil {
		return false
	}
	for k, vs := range want {
		for _, v := range vs {
			if !contains(have[k], []string{v}) {
				return false
			}
		}
	}
	return true
}

// matchSearch returns the promotions one of whose keywords occurs in the
// search, or in a term the search names by a synonym, in catalog order.
func matchSearch(s *site, keyword string) []promotion {
	texts := [][]string{terms(keyword)}
	for _, syn := range s.synonyms {
		for _, p := range syn.phrases {
			if contains(texts[0], p) {
				texts = append(texts, syn.term)
				break
			}
		}
	}
	var out []promotion
	for _, p := range s.promos {
	keywords:
		for _, k := range p.Keywords {
			for _, t := range texts {
				if contains(t, k) {
					out = append(out, p)
					break keywords
				}
			}
		}
	}
	return out
}

// matchClick returns the promotions whose landing page is the link
// clicked, and those of the categories of the product page it leads to.
// The link is parsed once, the landing pages when the catalog was loaded:
// parsing both for every promotion was a fifth of the enricher's CPU time
// in a profile of its benchmark.
func matchClick(s *site, href string) []promotion {
	clicked, ok := pageOf(href)
	if !ok {
		return nil
	}
	cats := s.categoriesOf(clicked)
	var out []promotion
	for _, p := range s.promos {
		if (p.hasPage && p.page == clicked) || inCategories(p, cats) {
			out = append(out, p)
		}
	}
	return out
}

// matchView returns the promotions of the categories of the product page
// viewed.
func matchView(s *site, pageURL string) []promotion {
	viewed, ok := pageOf(pageURL)
	if !ok {
		return nil
	}
	cats := s.categoriesOf(viewed)
	if len(cats) == 0 {
		return nil
	}
	var out []promotion
	for _, p := range s.promos {
		if inCategories(p, cats) {
			out = append(out, p)
		}
	}
	return out
}

// categoriesOf returns the categories of every product_categories entry
// covering visited.
func (s *site) categoriesOf(visited page) []string {
	var out []string
	for _, pp := range s.pages {
		if pp.page.covers(visited) {
			out = append(out, pp.categories...)
		}
	}
	return out
}

func inCategories(p promotion, cats []string) bool {
	for _, c := range p.Categories {
		if contains(cats, []string{c}) {
			return true
		}
	}
	return false
}
