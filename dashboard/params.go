package dashboard

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// docsPage is where the API's parameters are described; error messages
// point there as Plausible's point to its docs.
const docsPage = "docs/dashboard.md"

// apiError is an answer other than 200: its status and the message of
// the {"error": "..."} body.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

// badRequest is a 400 whose message names the parameter at fault.
func badRequest(format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// Breakdowns list 100 rows unless told otherwise, at most 1000 a page.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// request is what the parameters every report shares say.
type request struct {
	scope
	period period
}

// parseRequest is the package's parseRequest for today, with the
// dashboard's level cache in its scope.
func (d *Dashboard) parseRequest(q url.Values, site string) (request, error) {
	req, err := parseRequest(q, site, d.today())
	req.scope.levels = d.levels
	return req, err
}

// parseRequest reads site (authorized), period, date and filters.
func parseRequest(q url.Values, site string, today time.Time) (request, error) {
	p, err := parsePeriod(q.Get("period"), q.Get("date"), today)
	if err != nil {
		return request{}, err
	}
	filters, err := parseFilters(q.Get("filters"))
	if err != nil {
		return request{}, err
	}
	return request{scope: scopeOf(site, p, filters), period: p}, nil
}

func scopeOf(site string, p period, filters []filter) scope {
	return scope{site: site, from: p.from(), to: p.to(), filters: filters}
}

// parseProperty reads the property of a breakdown.
func parseProperty(q url.Values) (property, error) {
	name := q.Get("property")
	if name == "" {
		return property{}, badRequest("The `property` parameter is required. Please provide at least one property to show a breakdown by.")
	}
	p, ok := lookupProperty(name)
	if !ok {
		return property{}, badRequest("Invalid property '%s'. Please provide a valid property for the breakdown endpoint: %s#properties", name, docsPage)
	}
	return p, nil
}

// parsePaging reads limit and page, with Plausible's bounds and messages.
func parsePaging(q url.Values) (limit, page int, err error) {
	limit, page = defaultLimit, 1
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 || n > maxLimit {
			return 0, 0, badRequest("Please provide limit as a number between 1 and %d.", maxLimit)
		}
		limit = n
	}
	if q.Has("page") {
		n, err := strconv.Atoi(q.Get("page"))
		if err != nil || n < 1 {
			return 0, 0, badRequest("Please provide page as a positive number.")
		}
		page = n
	}
	return limit, page, nil
}

// parseCompare reads compare: off, or previous_period.
func parseCompare(q url.Values) (bool, error) {
	switch v := q.Get("compare"); v {
	case "":
		return false, nil
	case "previous_period":
		return true, nil
	default:
		return false, badRequest("Error parsing `compare` parameter: invalid value `%s`. The only comparison is `previous_period`.", v)
	}
}

// defaultMetrics are the metrics of a breakdown that names none: visitors,
// as in Plausible, and for Footfall's own properties what their report
// is about.
func defaultMetrics(p *property) string {
	switch {
	case p == nil:
		return "visitors"
	case p.name == "event:search":
		return "visitors,events,zero_results"
	case p.name == "event:click":
		return "visitors,events"
	}
	return "visitors"
}
