package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRatios(t *testing.T) {
	in := `goos: linux
BenchmarkIntake/50_events-2         1510     600000 ns/op   30.84 MB/s
BenchmarkIntake/50_events-2         1510     800000 ns/op   30.84 MB/s
BenchmarkIntakeBaseline/50_events-2 2396     350000 ns/op   42.10 MB/s
BenchmarkIntakeBaseline/50_events-2 2396     350000 ns/op   42.10 MB/s
BenchmarkLonely-2                    100       1000 ns/op
ok   github.com/footfall/footfall/collector 6.268s
`
	var out bytes.Buffer
	means, err := read(strings.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != in {
		t.Errorf("the input is not passed through")
	}
	out.Reset()
	report(&out, means)
	got := out.String()
	if !strings.Contains(got, "BenchmarkIntake/50_events") || !strings.Contains(got, "2.00x") {
		t.Errorf("want the mean 700000 against 350000, 2.00x; got\n%s", got)
	}
	if strings.Contains(got, "Lonely") {
		t.Errorf("a benchmark without a baseline has a row:\n%s", got)
	}
}
