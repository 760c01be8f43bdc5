package agentrunner

import (
	"fmt"
	"os"
	"syscall"
)

// CheckKeyOwner refuses a signing key file that this process's user does
// not own: its owner could read it whatever its mode (bundle.LoadKey
// refuses a key that group or others may read), and an engine user that
// owned it would sign as the runner.
func CheckKeyOwner(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if euid := os.Geteuid(); int(st.Uid) != euid {
		return fmt.Errorf("%s is owned by uid %d, not by the runner's user (uid %d): only the runner's user may own and read its key; chown it, or create a new key if another user may have read it",
			path, st.Uid, euid)
	}
	return nil
}
