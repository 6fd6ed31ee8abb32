package benchstat

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// clockTick is Linux's USER_HZ, the unit of /proc/<pid>/stat's times.
const clockTick = 10 * time.Millisecond

// procTimes reads a process's utime+stime and cutime+cstime (its reaped
// children's) from /proc/<pid>/stat.
func procTimes(pid int) (self, children time.Duration, ppid int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	// The command name is in parentheses and may hold spaces.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	// Fields after the name: state(0) ppid(1) ... utime(11) stime(12)
	// cutime(13) cstime(14).
	if len(f) < 15 {
		return 0, 0, 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	n := func(i int) time.Duration { v, _ := strconv.ParseInt(f[i], 10, 64); return time.Duration(v) * clockTick }
	ppid, _ = strconv.Atoi(f[1])
	return n(11) + n(12), n(13) + n(14), ppid, nil
}

// ProcessCPU is the CPU time (user + system, every thread) a process has
// used so far.
func ProcessCPU(pid int) (time.Duration, error) {
	self, _, _, err := procTimes(pid)
	return self, err
}

// TreeCPU is the CPU time of a process and its direct children so far,
// those that exited included (their time is in the parent's cutime once
// reaped): a PostgreSQL postmaster and its backends.
func TreeCPU(pid int) (time.Duration, error) {
	self, reaped, _, err := procTimes(pid)
	if err != nil {
		return 0, err
	}
	total := self + reaped
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		child, _ := strconv.Atoi(filepath.Base(d))
		cs, _, ppid, err := procTimes(child)
		if err == nil && ppid == pid {
			total += cs
		}
	}
	return total, nil
}

// Metrics is one scrape of a Prometheus endpoint: each sample's value by
// its full name with labels.
type Metrics map[string]float64

// Scrape reads a Prometheus text endpoint.
func Scrape(url string) (Metrics, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	m := Metrics{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			m[line[:i]] += v
		}
	}
	return m, sc.Err()
}

// Sum is one group's total and count of a histogram between two scrapes.
type Sum struct {
	Key          string
	Total, Count float64
}

// HistogramDelta sums the histogram metric's _sum and _count between two
// scrapes, grouped by the value of label, largest total first.
func HistogramDelta(before, after Metrics, metric, label string) []Sum {
	groups := map[string]*Sum{}
	for name, v := range after {
		var count bool
		switch {
		case strings.HasPrefix(name, metric+"_sum{"):
		case strings.HasPrefix(name, metric+"_count{"):
			count = true
		default:
			continue
		}
		key := labelValue(name, label)
		g := groups[key]
		if g == nil {
			g = &Sum{Key: key}
			groups[key] = g
		}
		if count {
			g.Count += v - before[name]
		} else {
			g.Total += v - before[name]
		}
	}
	out := make([]Sum, 0, len(groups))
	for _, g := range groups {
		if g.Count > 0 {
			out = append(out, *g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Total > out[j].Total })
	return out
}

func labelValue(name, label string) string {
	i := strings.Index(name, label+`="`)
	if i < 0 {
		return ""
	}
	rest := name[i+len(label)+2:]
	return rest[:strings.IndexByte(rest, '"')]
}

// ChildrenPrivateMemory sums the private memory (Private_Clean +
// Private_Dirty of /proc/<pid>/smaps_rollup) of a process's direct
// children: a PostgreSQL postmaster's backends, without the shared buffers
// they all map.
func ChildrenPrivateMemory(pid int) (int64, error) {
	var total int64
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		child, _ := strconv.Atoi(filepath.Base(d))
		if _, _, ppid, err := procTimes(child); err != nil || ppid != pid {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d, "smaps_rollup"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "Private_Clean:") || strings.HasPrefix(line, "Private_Dirty:") {
				f := strings.Fields(line)
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					total += kb * 1024
				}
			}
		}
	}
	return total, nil
}
