package dashboard

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestParseFilters(t *testing.T) {
	type want struct {
		prop    string
		negate  bool
		values  []string
		pattern string
	}
	tests := []struct {
		raw  string
		want []want
	}{
		{"", nil},
		{"event:page==/blog", []want{{"event:page", false, []string{"/blog"}, ""}}},
		{"visit:source==Google|Bing", []want{{"visit:source", false, []string{"Google", "Bing"}, ""}}},
		{"visit:browser!=Chrome", []want{{"visit:browser", true, []string{"Chrome"}, ""}}},
		{"visit:browser!=Chrome|Safari", []want{{"visit:browser", true, []string{"Chrome", "Safari"}, ""}}},
		{"event:page==/blog/**;visit:source==Google|Bing", []want{
			{"event:page", false, []string{"/blog/**"}, `^(?:/blog/.*)$`},
			{"visit:source", false, []string{"Google", "Bing"}, ""},
		}},
		{"event:page==/p/*|/cart", []want{{"event:page", false, []string{"/p/*", "/cart"}, `^(?:/p/[^/]*|/cart)$`}}},
		{"event:page!=/a.b*", []want{{"event:page", true, []string{"/a.b*"}, `^(?:/a\.b[^/]*)$`}}},
		// Plausible's name of no source is the empty value.
		{"visit:source==Direct / None", []want{{"visit:source", false, []string{""}, ""}}},
		{" visit:utm_campaign == campaign\\|one ; ", []want{{"visit:utm_campaign", false, []string{"campaign|one"}, ""}}},
		{`visit:utm_content==a\;b\\c\d`, []want{{"visit:utm_content", false, []string{`a;b\c\d`}, ""}}},
		{"event:search==  Humidifier ", []want{{"event:search", false, []string{"humidifier"}, ""}}},
		{"event:props:plan==pro", []want{{"event:props:plan", false, []string{"pro"}, ""}}},
		{"visit:utm_medium==", []want{{"visit:utm_medium", false, []string{""}, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			fs, err := parseFilters(tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			var got []want
			for _, f := range fs {
				got = append(got, want{f.prop.name, f.negate, f.values, f.pattern})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("parseFilters(%q) = %+v, want %+v", tt.raw, got, tt.want)
			}
		})
	}
}

func TestParseFiltersErrors(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"event:page=/blog", "Error parsing `filters` parameter: `event:page=/blog` is not a filter. Write property==value or property!=value, joined by ;"},
		{"visit:country==FR", "Invalid filter property 'visit:country'. Please provide a valid filter property: docs/dashboard.md#properties"},
		{"event:page==/;page==/", "Invalid filter property 'page'. Please provide a valid filter property: docs/dashboard.md#properties"},
		{"event:props:==x", "Invalid filter property 'event:props:'. Please provide a valid filter property: docs/dashboard.md#properties"},
	}
	for _, tt := range tests {
		_, err := parseFilters(tt.raw)
		badParam(t, err, tt.want)
	}
}

func TestWildcards(t *testing.T) {
	tests := []struct {
		value string
		match []string
		miss  []string
	}{
		{"/blog/*", []string{"/blog/a", "/blog/"}, []string{"/blog/a/b", "/blog", "/blogs/a"}},
		{"/blog/**", []string{"/blog/a", "/blog/a/b"}, []string{"/blog", "/x/blog/a"}},
		{"/blog**", []string{"/blog", "/blog/a/b", "/blogs"}, []string{"/x/blog"}},
		{"*.example.com", []string{"a.example.com"}, []string{"aexample.com", "a.b/c.example.com"}},
		{"/p/(1)", nil, nil}, // no wildcard: matched as it is
	}
	for _, tt := range tests {
		re := regexp.MustCompile("^(?:" + wildcardRegexp(tt.value) + ")$")
		for _, s := range tt.match {
			if !re.MatchString(s) {
				t.Errorf("%s does not match %s", tt.value, s)
			}
		}
		for _, s := range tt.miss {
			if re.MatchString(s) {
				t.Errorf("%s matches %s", tt.value, s)
			}
		}
	}
	if !regexp.MustCompile(wildcardRegexp("/p/(1)")).MatchString("/p/(1)") {
		t.Error("regexp characters of a value must be taken literally")
	}
}

func TestFilterConditionBindsValues(t *testing.T) {
	fs, err := parseFilters("event:props:plan!=pro|team;event:page==/p/*")
	if err != nil {
		t.Fatal(err)
	}
	sql, args := fs[0].condition()
	if sql != "NOT has(?, props.value[indexOf(props.key, ?)])" || !reflect.DeepEqual(args, []any{[]string{"pro", "team"}, "plan"}) {
		t.Fatalf("props filter = %s %v", sql, args)
	}
	sql, args = fs[1].condition()
	if sql != "match(page_path, ?)" || !reflect.DeepEqual(args, []any{`^(?:/p/[^/]*)$`}) {
		t.Fatalf("page filter = %s %v", sql, args)
	}
}

func TestParseSteps(t *testing.T) {
	steps, err := parseSteps("event:page==/|/home|event:page==/cart|event:name==Checkout")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range steps {
		got = append(got, s.label+" "+strings.Join(s.values, ","))
	}
	want := []string{"event:page==/|/home /,/home", "event:page==/cart /cart", "event:name==Checkout Checkout"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("steps = %q, want %q", got, want)
	}
	tests := []struct{ raw, want string }{
		{"", "The `steps` parameter is required: steps joined by |, e.g. event:page==/|event:page==/cart|event:name==Checkout."},
		{"event:page==/", "Error parsing `steps` parameter: a funnel has 2 to 8 steps, this one 1."},
		{strings.Repeat("event:page==/|", 8) + "event:page==/", "Error parsing `steps` parameter: a funnel has 2 to 8 steps, this one 9."},
		{"event:page==/|visit:source==Google", "Error parsing `steps` parameter: step 2 `visit:source==Google` is on a visit property; a step is an event: event:page, event:name, event:search, event:click or event:props:KEY."},
		{"event:page==/|event:nope==1", "Error parsing `steps` parameter: step 2: Invalid filter property 'event:nope'. Please provide a valid filter property: docs/dashboard.md#properties"},
	}
	for _, tt := range tests {
		_, err := parseSteps(tt.raw)
		badParam(t, err, tt.want)
	}
}

func TestFunnelOf(t *testing.T) {
	steps := make([]step, 3)
	// 10 visitors: 4 took no step, 3 only the first, 1 two, 2 all three.
	r := funnelOf(steps, map[int64]int64{0: 4, 1: 3, 2: 1, 3: 2})
	if r.AllVisitors != 10 || r.EnteringVisitors != 6 || r.NeverEnteringVisitors != 4 || r.EnteringVisitorsPercentage != 60 {
		t.Fatalf("totals = %+v", r)
	}
	want := []funnelStep{
		{Step: 1, Visitors: 6, ConversionRate: 100, ConversionRateStep: 100},
		{Step: 2, Visitors: 3, ConversionRate: 50, ConversionRateStep: 50, Dropoff: 3, DropoffPercentage: 50},
		{Step: 3, Visitors: 2, ConversionRate: 33.33, ConversionRateStep: 66.67, Dropoff: 1, DropoffPercentage: 33.33},
	}
	if !reflect.DeepEqual(r.Steps, want) {
		t.Fatalf("steps = %+v\nwant %+v", r.Steps, want)
	}
}
