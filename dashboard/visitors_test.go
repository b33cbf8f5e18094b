package dashboard

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLevelFor(t *testing.T) {
	tests := []struct {
		estimate int64
		level    int
	}{
		{0, 0},
		{500, 0},
		// Up to 16,384 and some margin for the estimate's error: every
		// level, exact.
		{16384, 0},
		{exactBelow - 1, 0},
		// Above: the highest level that still holds 8,192 visitors.
		{exactBelow, 1},
		{32767, 1},
		{32768, 2},
		{43000, 2},
		{393102, 5},
		{837195, 6},
		{1 << 40, maxLevel},
	}
	for _, tt := range tests {
		got := levelFor(tt.estimate)
		if got != tt.level {
			t.Errorf("levelFor(%d) = %d, want %d", tt.estimate, got, tt.level)
		}
		if got > 0 && tt.estimate>>got < sampleFloor {
			t.Errorf("levelFor(%d) = %d keeps %d visitors, fewer than %d", tt.estimate, got, tt.estimate>>got, sampleFloor)
		}
	}
}

// TestVisitorCountStatements: the estimate reads the top level of the
// figures' rows; the count reads each figure from its level only, values
// by the sort key, buckets as runs of hours.
func TestVisitorCountStatements(t *testing.T) {
	s := scope{site: "shop", from: day("2024-03-01"), to: day("2024-03-04")}
	page, _ := lookupProperty("event:page")
	channel, _ := lookupProperty("visit:channel")

	byValue := visitorCount{s: s, prop: &page, values: []string{"/", "/cart", "/p/1"}}
	est := byValue.estimateStmt()
	if sql := est.String(); !strings.Contains(sql, "uniqMerge(visitors)") || !strings.Contains(sql, "FROM events_hourly") ||
		!strings.Contains(sql, "dimension = 'page'") || !strings.Contains(sql, "value IN (?, ?, ?) AND lvl >= 7") {
		t.Errorf("estimate by value:\n%s", sql)
	}
	count := byValue.countStmt(map[string]int{"/": 3, "/p/1": 3})
	if sql := count.String(); !strings.HasSuffix(sql, " AND ((value IN (?, ?) AND lvl >= 3) OR (value IN (?))) GROUP BY value") {
		t.Errorf("count by value:\n%s", sql)
	}
	if want := []any{"shop", s.from, s.to, "/", "/p/1", "/cart"}; !reflect.DeepEqual(count.args, want) {
		t.Errorf("count by value: args %v, want %v", count.args, want)
	}

	// A visit property's visitors leave out the hours of a value whose
	// visits net to nothing.
	visits := visitorCount{s: s, visits: true, prop: &channel, values: []string{"Direct"}}
	if sql := visits.countStmt(nil).String(); !strings.Contains(sql, "uniqIfMerge(visitors)") || !strings.Contains(sql, "FROM sessions_hourly") ||
		!strings.Contains(sql, "AND (hour, value) NOT IN (SELECT hour, value FROM sessions_hourly WHERE site_id = ? AND dimension = 'channel' AND hour >= ? AND hour < ? AND value IN (?) GROUP BY hour, value HAVING sumMerge(visits) <= 0)") {
		t.Errorf("count of a visit property:\n%s", sql)
	}

	byDay := visitorCount{s: s, iv: daily}
	count = byDay.countStmt(map[string]int{"2024-03-02": 2})
	if sql := count.String(); !strings.HasSuffix(sql, " AND ((hour >= ? AND hour < ?) OR (hour >= ? AND hour < ? AND lvl >= 2) OR (hour >= ? AND hour < ?)) GROUP BY bucket") {
		t.Errorf("count by day:\n%s", sql)
	}
	if want := []any{"shop", s.from, s.to, day("2024-03-01"), day("2024-03-02"), day("2024-03-02"), day("2024-03-03"), day("2024-03-03"), day("2024-03-04")}; !reflect.DeepEqual(count.args, want) {
		t.Errorf("count by day: args %v, want %v", count.args, want)
	}

	total := visitorCount{s: scope{site: "shop", from: day("2024-03-01").Add(5 * time.Hour), to: day("2024-03-04")}}
	if sql := total.countStmt(map[string]int{"": 4}).String(); !strings.HasSuffix(sql, "hour >= ? AND hour < ? AND lvl >= 4") {
		t.Errorf("total:\n%s", sql)
	}
}
