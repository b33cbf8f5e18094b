package dashboard

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// Plausible's answers to a request without a usable key, so that a tool
// written for its API reads ours the same way.
const (
	msgMissingKey  = "Missing API key. Please use a valid Footfall API key as a Bearer Token."
	msgInvalidKey  = "Invalid API key or site ID. Please make sure you're using a valid API key with access to the site you've requested."
	msgMissingSite = "Missing site ID. Please provide the required site_id parameter with your request."
)

// authorize returns the site the request may read: the site_id it asks
// for, if its bearer key is that site's. As in Plausible, a missing key
// is told apart from a wrong one, and a key that reads another site is a
// wrong one.
func (d *Dashboard) authorize(r *http.Request) (string, error) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	token = strings.TrimSpace(token)
	if !ok || token == "" {
		return "", &apiError{status: http.StatusUnauthorized, msg: msgMissingKey}
	}
	site := r.URL.Query().Get("site_id")
	if site == "" {
		return "", badRequest(msgMissingSite)
	}
	if d.siteOf(token) != site {
		return "", &apiError{status: http.StatusUnauthorized, msg: msgInvalidKey}
	}
	return site, nil
}

// siteOf returns the site of key, or "". Every configured key is compared
// in constant time, so the answer's timing says nothing about how much of
// a guess was right.
func (d *Dashboard) siteOf(key string) string {
	site := ""
	for k, s := range d.cfg.Keys {
		if subtle.ConstantTimeCompare([]byte(k), []byte(key)) == 1 {
			site = s
		}
	}
	return site
}
