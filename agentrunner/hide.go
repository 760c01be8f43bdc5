package agentrunner

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// hideProcess makes the runner's process non-dumpable: its /proc/<pid>
// files (environ, mem, fds) then belong to root and no process of the same
// user may read them or attach to it. An engine that runs as the runner's
// own user (a runner that is not root) would otherwise read the S3 and NATS
// credentials from /proc/<runner>/environ and the key from its memory. The
// cost is no core dump and no debugger without root.
func hideProcess() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("make the runner non-dumpable: %w", err)
	}
	return nil
}
