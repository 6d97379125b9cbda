package bench

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
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
	// HeapLiveMiB is the Go heap still in use after a full GC.
	HeapLiveMiB float64 `json:"heapLiveMiB"`
	// HeapObjects is the number of live heap objects after that GC.
	HeapObjects uint64 `json:"heapObjects"`
	// Goroutines is the number of goroutines.
	Goroutines int `json:"goroutines"`
}

// MeasureMemory collects garbage, returns free memory to the OS and reads
// the process's RSS and live heap.
func MeasureMemory() Memory {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return Memory{
		RSSMiB:      mib(RSS(os.Getpid())),
		HeapLiveMiB: mib(int64(ms.HeapAlloc)),
		HeapObjects: ms.HeapObjects,
		Goroutines:  runtime.NumGoroutine(),
	}
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
