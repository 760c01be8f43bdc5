package cpuset

// Report is what a Check of a Pinning read back from the threads.
type Report struct {
	// Requested is the CPU list as given; Applied is the set that was
	// applied, as a canonical list; Previous is the process's CPUs before.
	Requested string `json:"requested"`
	Applied   string `json:"applied"`
	Previous  string `json:"previous"`
	// Threads is how many threads of the process were read; Matching how
	// many of them had exactly the Applied CPUs.
	Threads  int `json:"threads"`
	Matching int `json:"matching"`
	// Mismatched lists (up to maxMismatched) the threads that did not.
	Mismatched []ThreadCPUs `json:"mismatched,omitempty"`
	// GOMAXPROCS is the runtime's value at the check.
	GOMAXPROCS int `json:"gomaxprocs"`
}

// OK reports whether every thread read had the applied CPUs.
func (r Report) OK() bool { return r.Threads > 0 && r.Matching == r.Threads }

// ThreadCPUs is one thread's CPU list.
type ThreadCPUs struct {
	TID  int    `json:"tid"`
	CPUs string `json:"cpus"`
}

// maxMismatched bounds Report.Mismatched.
const maxMismatched = 16
