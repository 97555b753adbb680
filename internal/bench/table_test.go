package bench

import (
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		in := append([]float64(nil), tc.in...)
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %g, want %g", tc.in, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.in[i] {
				t.Errorf("median changed its input: %v, was %v", tc.in, in)
			}
		}
	}
}

func TestRatiosPairRuns(t *testing.T) {
	got := ratios([]float64{2, 3, 8}, []float64{4, 0, 2})
	want := []float64{0.5, 4}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("ratios = %v, want %v (a zero baseline is left out)", got, want)
	}
}

func TestRowVerdict(t *testing.T) {
	r := &row{what: "w", unit: unitSeconds, floor: ratioAtMost(0.6)}
	r.add(1, 2)
	r.add(3, 4)
	r.add(1, 10)
	if _, _, x := r.figures(); x != 0.5 {
		t.Errorf("ratio = %g, want the median of the per-run ratios 0.5", x)
	}
	if got := r.verdict(); got != "yes" {
		t.Errorf("verdict = %q, want yes", got)
	}
	r.floor = ratioAtLeast(0.85)
	if got := r.verdict(); got != "**no**" {
		t.Errorf("verdict = %q, want **no**", got)
	}
	r.floor = nil
	if got := r.verdict(); got != "—" {
		t.Errorf("verdict without a floor = %q, want —", got)
	}
	abs := &row{unit: unitSeconds, floor: under(1)}
	abs.add(0.9, 0.1)
	if !abs.met() {
		t.Errorf("0.9 s under a 1 s floor: not met")
	}
}

func TestMarkdownTable(t *testing.T) {
	rows := []*row{
		{what: "backup wall time", unit: unitSeconds, floor: ratioAtMost(0.6)},
		{what: "backup size", unit: unitBytes},
		{what: "throughput", unit: unitPerSecond, floor: ratioAtLeast(0.85)},
	}
	rows[0].add(2, 8)
	rows[1].add(3<<20, 2<<20)
	rows[2].add(40, 100)
	got := markdownTable(rows)
	want := "| what | splitschema | baseline | ratio | floor | met? |\n" +
		"|---|---:|---:|---:|---|---|\n" +
		"| backup wall time | 2.00 s | 8.00 s | 0.25× | ≤ 0.60× | yes |\n" +
		"| backup size | 3.0 MiB | 2.0 MiB | 1.50× | — | — |\n" +
		"| throughput | 40.0 tx/s | 100.0 tx/s | 0.40× | ≥ 0.85× | **no** |\n"
	if got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}

func TestUnitFormat(t *testing.T) {
	for _, tc := range []struct {
		u    unit
		v    float64
		want string
	}{
		{unitSeconds, 0.1234, "123 ms"},
		{unitSeconds, 12.345, "12.35 s"},
		{unitBytes, 1.5 * (1 << 20), "1.5 MiB"},
		{unitPerSecond, 99.94, "99.9 tx/s"},
	} {
		if got := tc.u.format(tc.v); got != tc.want {
			t.Errorf("format(%g) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestReplaceSection(t *testing.T) {
	section := beginMarker + "\nnew\n" + endMarker + "\n"
	got, err := replaceSection("# B\n\nintro\n"+beginMarker+"\nold\n"+endMarker+"\n\nafter\n", section)
	if err != nil {
		t.Fatal(err)
	}
	if want := "# B\n\nintro\n" + section + "\nafter\n"; got != want {
		t.Errorf("replaced:\n%q\nwant:\n%q", got, want)
	}
	got, err = replaceSection("# B\nintro", section)
	if err != nil {
		t.Fatal(err)
	}
	if want := "# B\nintro\n\n" + section; got != want {
		t.Errorf("appended:\n%q\nwant:\n%q", got, want)
	}
	if _, err := replaceSection(endMarker+"\n"+beginMarker, section); err == nil {
		t.Error("markers in the wrong order: no error")
	}
}

func TestConfigCheck(t *testing.T) {
	ok := Config{Scale: 1, Runs: 3, Only: splitList("backup, restore")}
	if err := ok.check(); err != nil {
		t.Errorf("check: %v", err)
	}
	if !ok.needsShop() || ok.runs(scenarioProvision) {
		t.Errorf("ONLY=backup,restore: needsShop %v, runs provision %v", ok.needsShop(), ok.runs(scenarioProvision))
	}
	for _, bad := range []Config{{Scale: 0, Runs: 1}, {Scale: 1, Runs: 0}, {Scale: 1, Runs: 1, Only: []string{"bakup"}}} {
		if err := bad.check(); err == nil {
			t.Errorf("check(%+v): no error", bad)
		} else if bad.Only != nil && !strings.Contains(err.Error(), "backup, restore") {
			t.Errorf("unknown scenario error does not list the scenarios: %v", err)
		}
	}
}

func TestGeneratedProject(t *testing.T) {
	g, err := generate(t.TempDir(), "bench_x", "bench_x_", 40, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.p.Services) != 40 || len(g.p.Order) != 40 {
		t.Fatalf("services = %d, want 40", len(g.p.Services))
	}
	for i := range 40 {
		svc := g.p.Service(serviceName(i))
		if want := len(generatedLinks(i)); len(svc.Links) != want {
			t.Errorf("%s has %d links, want %d", svc.Name, len(svc.Links), want)
		}
		if n := len(g.ups[svc.Name]); n != 5 {
			t.Errorf("%s has %d migrations, want 5", svc.Name, n)
		}
	}
	if got := g.p.OwnerRole("s0001"); got != "bench_x_s0001_owner" {
		t.Errorf("owner role = %s, want the prefix", got)
	}
}
