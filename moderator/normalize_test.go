package moderator

import (
	"reflect"
	"testing"
)

// Words are compared in one spelling: lower case, no accents, lookalikes
// (1 and l are both i) replaced, runs of a letter squeezed.
func TestWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"Great kettle!", []string{"great", "ketie"}},
		{"Crème Brûlée", []string{"creme", "bruie"}},
		{"ＦＵＬＬ width", []string{"fui", "width"}},
		{"h4te 5ucks", []string{"hate", "sucks"}},
		{"good.bad", []string{"god", "bad"}},
		{"", nil},
	} {
		if got := Words(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Words(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFindBanned(t *testing.T) {
	var banned []bannedWord
	for _, w := range []string{"hate", "kill", "scam*", "rip off"} {
		b, ok := newBannedWord(w)
		if !ok {
			t.Fatalf("newBannedWord(%q) refused", w)
		}
		banned = append(banned, b)
	}
	for _, tc := range []struct {
		text string
		want string // "" when nothing is banned
	}{
		{"I hate it", "hate"},
		{"I HATE it", "hate"},
		{"I h4te it", "hate"},
		{"I HÂTÉ it", "hate"},
		{"I haaaate it", "hate"},
		{"I h.a.t.e it", "hate"},
		{"I h-a-t-e it", "hate"},
		{"I h a t e it", "hate"},
		{"a b c d", ""},
		{"it will k1ll you", "kill"},
		{"total scammers!", "scam*"},
		{"a real r1p-0ff, sadly", "rip off"},
		{"hate!", "hate"},
		{"whatever, that excellent kettle", ""},
		{"skill and hatred", ""},
		{"ripe offer", ""},
		{"5 stars, 10/10", ""},
	} {
		b, found := findBanned(banned, tc.text)
		got := ""
		if found {
			got = b.raw
		}
		if got != tc.want {
			t.Errorf("findBanned(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestMostlyRepeated(t *testing.T) {
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"buy now buy now buy now buy now buy now", true},
		{"great great great great great great great great", true},
		{"great great great", false}, // too short to judge
		{"The kettle boils fast, looks good and the lid closes well; recommended.", false},
	} {
		if got := mostlyRepeated(Words(tc.text), 0.3); got != tc.want {
			t.Errorf("mostlyRepeated(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}
