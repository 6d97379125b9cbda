package bench

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Machine describes where the benchmark ran.
type Machine struct {
	CPUModel  string `json:"cpuModel"`
	Cores     int    `json:"cores"`
	MemoryGiB string `json:"memoryGiB"`
	GoVersion string `json:"goVersion"`
	Kernel    string `json:"kernel"`
	OS        string `json:"os"`
	// LoadAverage is /proc/loadavg's 1/5/15-minute load at the start and
	// the end: other work on the machine distorts every figure.
	LoadAtStart string `json:"loadAtStart"`
	LoadAtEnd   string `json:"loadAtEnd,omitempty"`
}

// DescribeMachine reads the machine's facts from /proc and the Go runtime.
func DescribeMachine() Machine {
	m := Machine{
		Cores:       runtime.NumCPU(),
		GoVersion:   runtime.Version(),
		OS:          runtime.GOOS + "/" + runtime.GOARCH,
		LoadAtStart: LoadAverage(),
	}
	if v := procField("/proc/cpuinfo", "model name"); v != "" {
		m.CPUModel = v
	}
	if v := procField("/proc/meminfo", "MemTotal"); v != "" {
		if kb, err := strconv.ParseInt(strings.Fields(v)[0], 10, 64); err == nil {
			m.MemoryGiB = fmt.Sprintf("%.1f", float64(kb)/(1<<20))
		}
	}
	if raw, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(raw))
	}
	return m
}

// LoadAverage is the first three fields of /proc/loadavg.
func LoadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// procField returns the value of the first "key : value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// CPUTime is the CPU time (user + system) this process has used.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Memory is this process's memory at one moment.
type Memory struct {
	// RSSMiB is the resident set size after the Go runtime returned every
	// free page to the OS (debug.FreeOSMemory), so it tracks live data
	// rather than the garbage of the last burst.
	RSSMiB float64 `json:"rssMiB"`
	// HeapLiveMiB is the Go heap a full GC found live.
	HeapLiveMiB float64 `json:"heapLiveMiB"`
	// HeapObjects is the number of heap objects (live and not yet swept).
	HeapObjects uint64 `json:"heapObjects"`
	// Goroutines is the number of goroutines.
	Goroutines int `json:"goroutines"`
}

// MeasureMemory collects garbage, returns free memory to the OS and reads
// the process's RSS and the heap the collection found live (not what was
// allocated since, which a burst of reconciles would add).
func MeasureMemory() Memory {
	debug.FreeOSMemory()
	samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/heap/objects:objects"}}
	metrics.Read(samples)
	m := Memory{RSSMiB: mib(RSS(os.Getpid())), Goroutines: runtime.NumGoroutine()}
	if samples[0].Value.Kind() == metrics.KindUint64 {
		m.HeapLiveMiB = mib(int64(samples[0].Value.Uint64()))
	}
	if samples[1].Value.Kind() == metrics.KindUint64 {
		m.HeapObjects = samples[1].Value.Uint64()
	}
	return m
}

// RSS reads a process's resident set size in bytes from /proc (0 if unknown).
func RSS(pid int) int64 {
	v := procField(fmt.Sprintf("/proc/%d/status", pid), "VmRSS")
	if v == "" {
		return 0
	}
	kb, err := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
	if err != nil {
		return 0
	}
	return kb * 1024
}

func mib(b int64) float64 { return float64(b*10/(1<<20)) / 10 }

// CPUStat is the machine's cumulative CPU time (/proc/stat, in clock ticks).
type CPUStat struct{ busy, total uint64 }

// MachineCPU reads the first line of /proc/stat.
func MachineCPU() CPUStat {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return CPUStat{}
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	var s CPUStat
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		if i >= 8 { // guest time is already counted in user time
			break
		}
		s.total += n
		if i != 3 && i != 4 { // idle, iowait
			s.busy += n
		}
	}
	return s
}

// Since is the percentage of all cores' time that was busy since before.
func (s CPUStat) Since(before CPUStat) float64 {
	if s.total <= before.total {
		return 0
	}
	return 100 * float64(s.busy-before.busy) / float64(s.total-before.total)
}

// ProcessCPU is a process's user + system CPU time from /proc/<pid>/stat.
func ProcessCPU(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name is in parentheses and may contain spaces.
	i := strings.LastIndexByte(string(raw), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks
}
