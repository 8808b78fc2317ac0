package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// printTable writes the markdown table: per workload and client count,
// req/s, p50 and p99 of each mode, then bundle/direct and
// bundle/mitmdump throughput ratios and the p99 the bundle adds over
// direct. Cells that saw errors are listed under it.
func printTable(w io.Writer, cfg runConfig, wls []string, counts []int, modes []string, best map[cellKey]result) {
	fmt.Fprintf(w, "best of %d runs per cell (most req/s, with that run's latencies); %s measured after %s warm-up; latencies in ms\n\n",
		cfg.runs, cfg.duration, cfg.warmup)
	head := []string{"workload", "clients"}
	for _, m := range modes {
		head = append(head, m+" req/s", m+" p50", m+" p99")
	}
	head = append(head, "bundle / direct", "bundle / mitmdump", "p99 added by bundle")
	fmt.Fprintf(w, "| %s |\n", strings.Join(head, " | "))
	fmt.Fprintf(w, "|---|%s\n", strings.Repeat("---:|", len(head)-1))
	var errs []string
	for _, wl := range wls {
		for _, n := range counts {
			row := []string{workloads[wl].name, fmt.Sprint(n)}
			for _, m := range modes {
				r := best[cellKey{m, wl, n}]
				row = append(row, fmt.Sprintf("%.0f", r.rps()), ms(r.p50), ms(r.p99))
				if r.errors > 0 {
					errs = append(errs, fmt.Sprintf("%s %s %d clients: %d errors (%d ok), first: %s", m, wl, n, r.errors, r.requests, r.firstErr))
				}
			}
			d, okD := best[cellKey{"direct", wl, n}]
			b, okB := best[cellKey{"bundle", wl, n}]
			x, okX := best[cellKey{"mitmdump", wl, n}]
			row = append(row, ratio(b, d, okB && okD), ratio(b, x, okB && okX))
			if okB && okD {
				row = append(row, ms(b.p99-d.p99))
			} else {
				row = append(row, "-")
			}
			fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
		}
	}
	for _, e := range errs {
		fmt.Fprintf(w, "\nerrors: %s", e)
	}
	if len(errs) > 0 {
		fmt.Fprintln(w)
	}
}

func ratio(a, b result, ok bool) string {
	if !ok || b.rps() == 0 {
		return "-"
	}
	r := a.rps() / b.rps()
	if r < 0.1 {
		return fmt.Sprintf("%.3fx", r)
	}
	return fmt.Sprintf("%.2fx", r)
}

// ms formats d in milliseconds with two decimals.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond))
}
