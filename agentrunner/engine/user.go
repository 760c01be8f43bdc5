package engine

import (
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// DefaultUser is the user a process-mode engine runs as when the runner runs
// as root.
const DefaultUser = "nobody"

// User is the unprivileged identity a process-mode engine runs as, apart
// from the runner: it cannot read the runner's 0600 key, its memory or its
// /proc/<pid>/environ. Supplementary groups are dropped.
type User struct {
	Name     string
	UID, GID uint32
}

func (u *User) String() string {
	if u == nil {
		return "the runner's own user"
	}
	return fmt.Sprintf("%s (uid %d, gid %d)", u.Name, u.UID, u.GID)
}

// LookupUser resolves name, a user name or a numeric uid ("65534", or
// "65534:65534" with the gid). It returns nil when name is the process's
// own effective user: there is nothing to switch to.
func LookupUser(name string) (*User, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: engine user: empty name", ErrInvalidConfig)
	}
	u := &User{Name: name}
	if uidS, gidS, ok := strings.Cut(name, ":"); ok {
		uid, err1 := strconv.ParseUint(uidS, 10, 32)
		gid, err2 := strconv.ParseUint(gidS, 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%w: engine user %q: want a name, a uid or uid:gid", ErrInvalidConfig, name)
		}
		u.UID, u.GID = uint32(uid), uint32(gid)
	} else {
		var (
			pu  *user.User
			err error
		)
		if _, nerr := strconv.ParseUint(name, 10, 32); nerr == nil {
			pu, err = user.LookupId(name)
		} else {
			pu, err = user.Lookup(name)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: engine user %q: %v", ErrInvalidConfig, name, err)
		}
		uid, err1 := strconv.ParseUint(pu.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(pu.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%w: engine user %q: uid %q, gid %q are not numbers", ErrInvalidConfig, name, pu.Uid, pu.Gid)
		}
		u.UID, u.GID = uint32(uid), uint32(gid)
	}
	switch euid := os.Geteuid(); {
	case int(u.UID) == euid:
		return nil, nil
	case euid != 0:
		return nil, fmt.Errorf("%w: engine user %s: switching users needs root; run the runner as root or leave the engine user unset", ErrInvalidConfig, u)
	case u.UID == 0:
		return nil, fmt.Errorf("%w: engine user %s: the engine must not run as root", ErrInvalidConfig, u)
	}
	return u, nil
}

// DefaultEngineUser is the engine user to use when the operator named none:
// DefaultUser when the runner runs as root, else the runner's own (nil).
func DefaultEngineUser() (*User, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	return LookupUser(DefaultUser)
}

func (u *User) credential() *syscall.Credential {
	if u == nil {
		return nil
	}
	return &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: []uint32{}}
}

// MakeDir creates a fresh, empty directory for one engine process: its
// working directory, HOME and TMPDIR, apart from the runner's work dir
// (which holds the key). It lies under parent (os.TempDir() when empty), is
// owned by u (when set) and has mode 0700. The caller removes it.
func MakeDir(parent string, u *User) (string, error) {
	if parent == "" {
		parent = os.TempDir()
	}
	dir, err := os.MkdirTemp(parent, "agentwatt-engine-")
	if err != nil {
		return "", fmt.Errorf("engine dir: %w", err)
	}
	if u != nil {
		if err := os.Chown(dir, int(u.UID), int(u.GID)); err != nil {
			os.Remove(dir)
			return "", fmt.Errorf("engine dir: %w", err)
		}
	}
	return dir, nil
}

// ExecutableBy reports whether u (nil: this process's user) can execute the
// file at path: every directory on the way searchable, the file executable,
// by the mode bits (supplementary groups are dropped, ACLs are not read).
func ExecutableBy(path string, u *User) bool {
	if u == nil {
		return true
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	for p := abs; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil || !permits(fi, u) {
			return false
		}
		if p == "/" {
			return true
		}
	}
}

// permits checks the execute (search) bit that applies to u.
func permits(fi os.FileInfo, u *User) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	mode := uint32(fi.Mode().Perm())
	switch {
	case st.Uid == u.UID:
		return mode&0o100 != 0
	case st.Gid == u.GID:
		return mode&0o010 != 0
	}
	return mode&0o001 != 0
}

// ExecutableFor returns a path of the program at path that u can execute:
// path itself when it can, else a link (or copy) in a new directory that u
// can search, with mode 0755, read-only to u. cleanup removes that
// directory. The runner's own binary often lies where only root can reach
// it (a 0700 build directory, /root/go/bin); the sim runs from it.
func ExecutableFor(path string, u *User) (string, func(), error) {
	if ExecutableBy(path, u) {
		return path, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "agentwatt-bin-")
	if err != nil {
		return "", nil, fmt.Errorf("engine binary: %w", err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	if err := os.Chmod(dir, 0o755); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("engine binary: %w", err)
	}
	// A hard link costs nothing but keeps the file's mode (a chmod would
	// change the original): copy when the link is not executable by u.
	dst := filepath.Join(dir, filepath.Base(path))
	if err := os.Link(path, dst); err != nil || !ExecutableBy(dst, u) {
		os.Remove(dst)
		if err := copyFile(path, dst); err != nil {
			cleanup()
			return "", nil, fmt.Errorf("engine binary: %w", err)
		}
	}
	if !ExecutableBy(dst, u) {
		cleanup()
		return "", nil, fmt.Errorf("engine binary: %s is not executable by %s even from %s", path, u, dir)
	}
	return dst, cleanup, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Chmod(0o755); err != nil { // whatever the umask
		out.Close()
		return err
	}
	return out.Close()
}
