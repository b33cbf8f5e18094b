package event

import (
	"strings"
	"testing"
)

func TestUserHash(t *testing.T) {
	// RFC 4231, test case 2.
	const want = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	if got := UserHash("Jefe", "what do ya want for nothing?"); got != want {
		t.Fatalf("UserHash = %s, want the RFC 4231 value %s", got, want)
	}
	tests := []struct {
		name               string
		secret, user, hash string
		valid              bool
	}{
		{"its own hash", "s3cret", "user-42", UserHash("s3cret", "user-42"), true},
		{"upper-case hex", "s3cret", "user-42", strings.ToUpper(UserHash("s3cret", "user-42")), true},
		{"another user's hash", "s3cret", "user-43", UserHash("s3cret", "user-42"), false},
		{"another secret", "other", "user-42", UserHash("s3cret", "user-42"), false},
		{"truncated", "s3cret", "user-42", UserHash("s3cret", "user-42")[:32], false},
		{"not hex", "s3cret", "user-42", "zz", false},
		{"empty", "s3cret", "user-42", "", false},
	}
	for _, tt := range tests {
		if got := ValidUserHash(tt.secret, tt.user, tt.hash); got != tt.valid {
			t.Errorf("%s: ValidUserHash = %v, want %v", tt.name, got, tt.valid)
		}
	}
}
