// Command benchratio reads `go test -bench` output on stdin, passes it
// through, and then prints each benchmark's time per operation as a ratio
// to its baseline: BenchmarkX/case against BenchmarkXBaseline/case, each
// the mean of its runs (-count). Ratios measured in one run hold on a
// shared, noisy machine where absolute times do not.
//
//	go test -run '^$' -bench . -count 3 ./... | go run ./cmd/benchratio
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// line matches "BenchmarkName/case-2   1000   1234 ns/op ...".
var line = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([0-9.]+) ns/op`)

type mean struct {
	sum float64
	n   int
}

func (m mean) value() float64 { return m.sum / float64(m.n) }

func main() {
	means, err := read(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchratio:", err)
		os.Exit(1)
	}
	report(os.Stdout, means)
}

// read copies r to w and collects the mean ns/op of each benchmark.
func read(r io.Reader, w io.Writer) (map[string]mean, error) {
	means := map[string]mean{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fmt.Fprintln(w, sc.Text())
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		ns, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			return nil, err
		}
		acc := means[m[1]]
		acc.sum += ns
		acc.n++
		means[m[1]] = acc
	}
	return means, sc.Err()
}

// report prints a row per benchmark that has a baseline.
func report(w io.Writer, means map[string]mean) {
	var names []string
	for name := range means {
		if base := baselineOf(name); base != "" {
			if _, ok := means[base]; ok {
				names = append(names, name)
			}
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		fmt.Fprintln(w, "\nno benchmark with a baseline")
		return
	}
	fmt.Fprintf(w, "\n%-44s %14s %14s %8s\n", "benchmark (vs its Baseline)", "ns/op", "baseline", "ratio")
	for _, name := range names {
		got, base := means[name].value(), means[baselineOf(name)].value()
		fmt.Fprintf(w, "%-44s %14.0f %14.0f %7.2fx\n", name, got, base, got/base)
	}
}

// baselineOf names the baseline of BenchmarkX/case, BenchmarkXBaseline/case;
// "" for a benchmark that is itself a baseline.
func baselineOf(name string) string {
	top, sub, _ := strings.Cut(name, "/")
	if strings.HasSuffix(top, "Baseline") {
		return ""
	}
	if sub == "" {
		return top + "Baseline"
	}
	return top + "Baseline/" + sub
}
