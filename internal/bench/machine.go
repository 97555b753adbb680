package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/splitschema/splitschema/internal/localpg"
	"github.com/splitschema/splitschema/internal/pgsql"
)

// machine describes where the benchmark ran.
type machine struct {
	CPUs     int
	CPUModel string
	// MemoryBytes is MemTotal of /proc/meminfo; 0 when unknown.
	MemoryBytes int64
	Server      string // PostgreSQL server version
	PgDump      string // pg_dump --version
	Date        time.Time
	GoVersion   string
}

// describeMachine reads the machine, the server and pg_dump. It refuses a
// pg_dump older than the server, as backup does.
func describeMachine(ctx context.Context, e *env) (*machine, error) {
	m := &machine{CPUs: runtime.NumCPU(), Date: time.Now().UTC(), GoVersion: runtime.Version()}
	m.CPUModel, m.MemoryBytes = readCPUModel(), readMemTotal()
	v, err := pgsql.ServerVersion(ctx, e.conn)
	if err != nil {
		return nil, err
	}
	m.Server = v.Full
	num := v.Num
	full, major, err := localpg.ProgramVersion(ctx, e.tool("pg_dump"))
	if err != nil {
		return nil, fmt.Errorf("pg_dump: %w", err)
	}
	m.PgDump = full
	if major < num/10000 {
		return nil, fmt.Errorf("pg_dump %s (%s) is older than the server, PostgreSQL %s: install the server's client programs", full, e.tool("pg_dump"), m.Server)
	}
	return m, nil
}

// readMemTotal returns MemTotal of /proc/meminfo in bytes, 0 if unknown.
func readMemTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// readCPUModel returns the first "model name" of /proc/cpuinfo, or "".
func readCPUModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// String is the machine in one markdown paragraph.
func (m *machine) String() string {
	cpu := fmt.Sprintf("%d CPUs", m.CPUs)
	if m.CPUModel != "" {
		cpu += " (" + m.CPUModel + ")"
	}
	mem := "memory unknown"
	if m.MemoryBytes > 0 {
		mem = fmt.Sprintf("%.1f GiB memory", float64(m.MemoryBytes)/(1<<30))
	}
	return fmt.Sprintf("%s, %s; PostgreSQL %s, pg_dump %s; %s; %s", cpu, mem, m.Server, m.PgDump, m.GoVersion, m.Date.Format("2006-01-02"))
}
