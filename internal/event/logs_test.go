package event

import "testing"

func TestSeverityName(t *testing.T) {
	for n, want := range map[uint8]string{0: "", 1: "TRACE", 4: "TRACE", 5: "DEBUG", 9: "INFO", 13: "WARN", 16: "WARN", 17: "ERROR", 20: "ERROR", 21: "FATAL", 24: "FATAL", 25: ""} {
		if got := SeverityName(n); got != want {
			t.Errorf("SeverityName(%d) = %q, want %q", n, got, want)
		}
	}
}
