package main

import (
	"bufio"
	"fmt"
	"image/color"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case d == 0:
		return "0"
	case v < 1:
		return fmt.Sprintf("%.3f ms", v)
	case v < 100:
		return fmt.Sprintf("%.2f ms", v)
	default:
		return fmt.Sprintf("%.0f ms", v)
	}
}

func pct(n, of int64) string {
	if of == 0 {
		return "–"
	}
	p := 100 * float64(n) / float64(of)
	if p > 0 && p < 0.01 {
		return fmt.Sprintf("%.3f%%", p)
	}
	return fmt.Sprintf("%.2f%%", p)
}

func ratio(a, b time.Duration) string {
	if b <= 0 || a <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", float64(a)/float64(b))
}

func brief(rs *runStats) string {
	return fmt.Sprintf("p50 %s p99 %s p99.9 %s max %s, %d ok %d failed, hedged %s, mixed %d",
		ms(rs.hist.quantile(0.5)), ms(rs.hist.quantile(0.99)), ms(rs.hist.quantile(0.999)), ms(rs.hist.maxDur()), rs.ok, rs.fail, pct(rs.hedged, rs.ok), rs.mixed)
}

func (r *scenarioResult) raw() *runStats {
	for _, rs := range r.runs {
		if n := baseName(rs.contender); n == "raw" || strings.HasPrefix(n, "raw (") {
			return rs
		}
	}
	return nil
}

// markdown renders the scenario's table.
func (r *scenarioResult) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s: %s\n\nGoal: %s.\n\n", r.id, r.title, r.goal)
	switch {
	case r.table != "":
		b.WriteString(r.table)
	case r.batch:
		b.WriteString("| contender | batch p50 | batch p99 | 100 singles p50 | 100 singles p99 | batch / singles (p50) | entities/s batch | entities/s singles | failed |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
		for _, rs := range r.runs {
			eps := func(ok int64, d time.Duration) string {
				if d <= 0 {
					return "–"
				}
				return fmt.Sprintf("%.0f", float64(ok)*100/d.Seconds())
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %d |\n", rs.contender,
				ms(rs.hist.quantile(0.5)), ms(rs.hist.quantile(0.99)), ms(rs.hist2.quantile(0.5)), ms(rs.hist2.quantile(0.99)),
				ratio(rs.hist.quantile(0.5), rs.hist2.quantile(0.5)), eps(rs.ok, rs.load.dur), eps(rs.ok2, rs.dur2), rs.fail)
		}
	default:
		raw := r.raw()
		b.WriteString("| contender | p50 | p99 | p99.9 | max | failed | extra load | srv req/vector | vectors/s | p50 vs raw | p99.9 vs raw | eu / us / mixed |")
		for _, c := range r.cols {
			b.WriteString(" " + c + " |")
		}
		b.WriteString("\n|" + strings.Repeat("---|", 12+len(r.cols)) + "\n")
		for _, rs := range r.runs {
			var p50r, p999r string = "–", "–"
			if raw != nil {
				p50r = ratio(rs.hist.quantile(0.5), raw.hist.quantile(0.5))
				p999r = ratio(rs.hist.quantile(0.999), raw.hist.quantile(0.999))
			}
			srv := "–"
			if rs.ok > 0 {
				srv = fmt.Sprintf("%.2f", float64(rs.srvReqs)/float64(rs.ok))
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %d | %s | %s | %.0f | %s | %s | %s / %s / %d |",
				rs.contender, ms(rs.hist.quantile(0.5)), ms(rs.hist.quantile(0.99)), ms(rs.hist.quantile(0.999)), ms(rs.hist.maxDur()),
				rs.fail, pct(rs.extra, rs.ok), srv, float64(rs.ok)/rs.load.dur.Seconds(), p50r, p999r,
				pct(rs.eu, rs.ok), pct(rs.us, rs.ok), rs.mixed)
			for _, c := range r.cols {
				v := rs.cells[c]
				if v == "" {
					v = "–"
				}
				b.WriteString(" " + v + " |")
			}
			b.WriteString("\n")
		}
	}
	if !r.batch && r.table == "" {
		b.WriteString(r.medians())
	}
	for _, n := range r.notes {
		b.WriteString("\n" + n + "\n")
	}
	return b.String()
}

// medians is a table of each contender's medians over its rounds, when
// it ran more than once ("" otherwise).
func (r *scenarioResult) medians() string {
	var names []string
	by := map[string][]*runStats{}
	for _, rs := range r.runs {
		n := baseName(rs.contender)
		if by[n] == nil {
			names = append(names, n)
		}
		by[n] = append(by[n], rs)
	}
	if len(names) == 0 || len(by[names[0]]) < 2 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\nMedians over the rounds:\n\n| contender | rounds | p50 | p99 | p99.9 | max | vectors/s | extra load | failed |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, n := range names {
		runs := by[n]
		q := func(f func(*runStats) float64) float64 {
			v := make([]float64, len(runs))
			for i, rs := range runs {
				v[i] = f(rs)
			}
			slices.Sort(v)
			if len(v)%2 == 1 {
				return v[len(v)/2]
			}
			return (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
		lat := func(p float64) string {
			return ms(time.Duration(q(func(rs *runStats) float64 { return float64(rs.hist.quantile(p)) })))
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %.0f | %.2f%% | %.0f |\n", n, len(runs), lat(0.5), lat(0.99), lat(0.999),
			ms(time.Duration(q(func(rs *runStats) float64 { return float64(rs.hist.maxDur()) }))),
			q(func(rs *runStats) float64 { return float64(rs.ok) / rs.load.dur.Seconds() }),
			q(func(rs *runStats) float64 { return 100 * float64(rs.extra) / float64(max(rs.ok, 1)) }),
			q(func(rs *runStats) float64 { return float64(rs.fail) }))
	}
	return b.String()
}

// plot draws latency against percentile, HdrHistogram style: the x axis
// is log10(1/(1-q)), so 90%, 99%, 99.9% are equally spaced.
func (r *scenarioResult) plot(path string) error {
	if len(r.runs) == 0 {
		return nil
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: %s", r.id, r.title)
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency (ms, log scale)"
	if r.batch {
		p.Y.Label.Text = "latency of 100 entities (ms, log scale)"
	}
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	maxX := 0.0
	i := 0
	add := func(name string, h *hist) error {
		if h == nil || h.n == 0 {
			return nil
		}
		var pts plotter.XYs
		top := math.Log10(float64(h.n)) // beyond it the curve is one sample
		for x := 0.0; x <= top+1e-9; x += 0.02 {
			q := 1 - math.Pow(10, -x)
			v := float64(h.quantile(q)) / float64(time.Millisecond)
			pts = append(pts, plotter.XY{X: x, Y: math.Max(v, 0.01)})
		}
		pts = append(pts, plotter.XY{X: top, Y: math.Max(float64(h.max)/float64(time.Millisecond), 0.01)})
		maxX = math.Max(maxX, top)
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1.8)
		if strings.HasPrefix(name, "tandem") {
			l.Color = color.RGBA{R: 200, G: 20, B: 20, A: 255}
			l.Width = vg.Points(2.6)
		} else {
			l.Dashes = plotutil.Dashes(i)
		}
		i++
		p.Add(l)
		p.Legend.Add(name, l)
		return nil
	}
	for _, rs := range r.runs {
		if r.batch {
			if err := add(rs.contender+" batch of 100", rs.hist); err != nil {
				return err
			}
			if err := add(rs.contender+" 100 single lookups", rs.hist2); err != nil {
				return err
			}
			continue
		}
		if err := add(rs.contender, rs.hist); err != nil {
			return err
		}
	}
	var ticks []plot.Tick
	for k, lbl := range []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"} {
		if float64(k) <= math.Ceil(maxX) {
			ticks = append(ticks, plot.Tick{Value: float64(k), Label: lbl})
		}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = 0, math.Max(maxX, 1)
	return p.Save(9*vg.Inch, 5.5*vg.Inch, path)
}

// machineInfo describes the machine: cores, CPU model, load average.
func machineInfo() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	return fmt.Sprintf("%d cores (nproc), %s, %s/%s, %s; load average at start %s",
		runtime.NumCPU(), model, runtime.GOOS, runtime.GOARCH, runtime.Version(), loadAvg())
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
