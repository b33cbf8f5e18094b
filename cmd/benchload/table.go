package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one line of the table: a stage's figure next to its ceiling.
type row struct {
	stage    string
	figure   float64
	unit     string
	ceiling  float64 // 0: none
	against  string  // what the ceiling is
	p50, p99 time.Duration
	latency  string  // what p50/p99 time
	cores    float64 // CPU of the process under test during the run
	rss      int64   // its resident memory at the end of the run, bytes
	note     string
}

func printTable(w io.Writer, o options, rows []row) {
	if len(rows) == 0 {
		return
	}
	if o.smoke {
		fmt.Fprintln(w, "\nsmoke run (--smoke): the harness works; these figures mean nothing")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "stage\t figure\t ceiling (same run)\t ratio\t p50\t p99\t CPU\t RSS\t")
	for _, r := range rows {
		ceiling, ratio := "—", "—"
		if r.ceiling > 0 {
			ceiling = fmt.Sprintf("%s %s (%s)", human(r.ceiling), r.unit, r.against)
			ratio = fmt.Sprintf("%.2f", r.figure/r.ceiling)
		}
		p50, p99 := "—", "—"
		if r.p99 > 0 {
			p50, p99 = ms(r.p50), ms(r.p99)
		}
		cpu, rss := "—", "—"
		if r.cores > 0 {
			cpu = fmt.Sprintf("%.2f cores", r.cores)
		}
		if r.rss > 0 {
			rss = fmt.Sprintf("%d MiB", r.rss>>20)
		}
		fmt.Fprintf(tw, "%s\t %s %s\t %s\t %s\t %s\t %s\t %s\t %s\t\n", r.stage, human(r.figure), r.unit, ceiling, ratio, p50, p99, cpu, rss)
	}
	tw.Flush()
	var notes []string
	for _, r := range rows {
		if r.note != "" || r.latency != "" {
			n := r.stage + ": "
			if r.latency != "" {
				n += "p50/p99 are " + r.latency + ". "
			}
			notes = append(notes, n+r.note)
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "\n"+strings.Join(notes, "\n"))
	}
}

// human prints 12345.6 as "12.3 k".
func human(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f M", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1f k", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func ms(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}
