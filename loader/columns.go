package loader

import (
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/footfall/footfall/internal/event"
)

// columns of the events table, in the order eventColumns.appendTo hands
// them over. ClickHouse 18 needs an INSERT to name its columns.
var columns = []string{
	"id", "type", "name", "site_id", "time", "ts", "original_ts", "received_at",
	"anonymous_id", "user_id", "user_verified", "session_id",
	"page_url", "page_path", "page_title", "page_referrer",
	"search_keyword", "search_results",
	"click_selector", "click_text", "click_href", "click_tag",
	"scroll_depth", "form_id", "form_action",
	"props.key", "props.value",
	"locale", "tz", "screen",
	"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
	"ip", "user_agent", "bot", "browser", "os", "device",
}

// eventColumns holds a block of events column by column, the form the
// native protocol sends. Appending a whole column at once spares the
// driver boxing every value of every row into an interface and checking
// its type again (41 values a row): a third of the insert's time when the
// rows went one by one.
type eventColumns struct {
	strs   [nStrs][]string // the String and LowCardinality(String) columns
	times  [2][]time.Time  // time, received_at
	u64s   [2][]uint64     // ts, original_ts
	u8s    [3][]uint8      // user_verified, scroll_depth, bot
	i32s   []int32         // search_results
	keys   [][]string      // props.key
	values [][]string      // props.value
}

// Indexes into eventColumns.strs.
const (
	cID = iota
	cType
	cName
	cSite
	cAnonymous
	cUser
	cSession
	cPageURL
	cPagePath
	cPageTitle
	cPageReferrer
	cSearchKeyword
	cClickSelector
	cClickText
	cClickHref
	cClickTag
	cFormID
	cFormAction
	cLocale
	cTZ
	cScreen
	cUTMSource
	cUTMMedium
	cUTMCampaign
	cUTMTerm
	cUTMContent
	cIP
	cUserAgent
	cBrowser
	cOS
	cDevice
	nStrs
)

func newEventColumns(n int) *eventColumns {
	c := &eventColumns{i32s: make([]int32, 0, n), keys: make([][]string, 0, n), values: make([][]string, 0, n)}
	for i := range c.strs {
		c.strs[i] = make([]string, 0, n)
	}
	for i := range c.times {
		c.times[i] = make([]time.Time, 0, n)
	}
	for i := range c.u64s {
		c.u64s[i] = make([]uint64, 0, n)
	}
	for i := range c.u8s {
		c.u8s[i] = make([]uint8, 0, n)
	}
	return c
}

func (c *eventColumns) len() int { return len(c.i32s) }

// add appends e as one row: the values row used to give, column by column.
func (c *eventColumns) add(e *event.Event) {
	s := &c.strs
	s[cID] = append(s[cID], e.ID)
	s[cType] = append(s[cType], string(e.Type))
	s[cName] = append(s[cName], e.Name)
	s[cSite] = append(s[cSite], e.SiteID)
	s[cAnonymous] = append(s[cAnonymous], e.AnonymousID)
	s[cUser] = append(s[cUser], e.UserID)
	s[cSession] = append(s[cSession], e.SessionID)
	var page event.Page
	if e.Page != nil {
		page = *e.Page
	}
	s[cPageURL] = append(s[cPageURL], page.URL)
	s[cPagePath] = append(s[cPagePath], page.Path)
	s[cPageTitle] = append(s[cPageTitle], page.Title)
	s[cPageReferrer] = append(s[cPageReferrer], page.Referrer)
	var search event.SearchDetail
	results := int32(-1) // unknown
	if e.Search != nil {
		search = *e.Search
		if search.Results != nil {
			results = int32(*search.Results)
		}
	}
	s[cSearchKeyword] = append(s[cSearchKeyword], search.Keyword)
	c.i32s = append(c.i32s, results)
	var click event.ClickDetail
	if e.Click != nil {
		click = *e.Click
	}
	s[cClickSelector] = append(s[cClickSelector], click.Selector)
	s[cClickText] = append(s[cClickText], click.Text)
	s[cClickHref] = append(s[cClickHref], click.Href)
	s[cClickTag] = append(s[cClickTag], click.Tag)
	var depth uint8
	if e.Scroll != nil {
		depth = uint8(min(max(e.Scroll.DepthPct, 0), 100))
	}
	var form event.FormDetail
	if e.Form != nil {
		form = *e.Form
	}
	s[cFormID] = append(s[cFormID], form.FormID)
	s[cFormAction] = append(s[cFormAction], form.Action)
	var ctx event.Context
	var utm event.UTM
	if e.Context != nil {
		ctx = *e.Context
		if ctx.UTM != nil {
			utm = *ctx.UTM
		}
	}
	s[cLocale] = append(s[cLocale], ctx.Locale)
	s[cTZ] = append(s[cTZ], ctx.TZ)
	s[cScreen] = append(s[cScreen], ctx.Screen)
	s[cUTMSource] = append(s[cUTMSource], utm.Source)
	s[cUTMMedium] = append(s[cUTMMedium], utm.Medium)
	s[cUTMCampaign] = append(s[cUTMCampaign], utm.Campaign)
	s[cUTMTerm] = append(s[cUTMTerm], utm.Term)
	s[cUTMContent] = append(s[cUTMContent], utm.Content)
	s[cIP] = append(s[cIP], e.IP)
	s[cUserAgent] = append(s[cUserAgent], e.UserAgent)
	s[cBrowser] = append(s[cBrowser], e.Browser)
	s[cOS] = append(s[cOS], e.OS)
	s[cDevice] = append(s[cDevice], e.Device)

	var keys, values []string
	if len(e.Props) > 0 {
		keys, values = make([]string, 0, len(e.Props)), make([]string, 0, len(e.Props))
		for k, v := range e.Props {
			keys, values = append(keys, k), append(values, propString(v))
		}
	}
	c.keys, c.values = append(c.keys, keys), append(c.values, values)

	c.times[0] = append(c.times[0], eventTime(e))
	c.times[1] = append(c.times[1], time.UnixMilli(e.ReceivedAt).UTC())
	c.u64s[0] = append(c.u64s[0], uint64(max(e.TS, 0)))
	c.u64s[1] = append(c.u64s[1], uint64(max(e.OriginalTS, 0)))
	c.u8s[0] = append(c.u8s[0], boolUInt8(e.UserVerified))
	c.u8s[1] = append(c.u8s[1], depth)
	c.u8s[2] = append(c.u8s[2], boolUInt8(e.Bot))
}

func boolUInt8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// columnBatch is the part of driver.Batch that takes whole columns.
type columnBatch interface {
	Column(int) driver.BatchColumn
}

// appendTo hands every column to b, in the order of columns.
func (c *eventColumns) appendTo(b columnBatch) error {
	s := &c.strs
	for i, col := range []any{
		s[cID], s[cType], s[cName], s[cSite], c.times[0], c.u64s[0], c.u64s[1], c.times[1],
		s[cAnonymous], s[cUser], c.u8s[0], s[cSession],
		s[cPageURL], s[cPagePath], s[cPageTitle], s[cPageReferrer],
		s[cSearchKeyword], c.i32s,
		s[cClickSelector], s[cClickText], s[cClickHref], s[cClickTag],
		c.u8s[1], s[cFormID], s[cFormAction],
		c.keys, c.values,
		s[cLocale], s[cTZ], s[cScreen],
		s[cUTMSource], s[cUTMMedium], s[cUTMCampaign], s[cUTMTerm], s[cUTMContent],
		s[cIP], s[cUserAgent], c.u8s[2], s[cBrowser], s[cOS], s[cDevice],
	} {
		if err := b.Column(i).Append(col); err != nil {
			return fmt.Errorf("column %s: %w", columns[i], err)
		}
	}
	return nil
}
