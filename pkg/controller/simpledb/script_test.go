package simpledb

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// postgresTools finds local PostgreSQL server binaries (initdb, pg_ctl,
// postgres, psql in one directory) and the credentials to run them with:
// PostgreSQL refuses to run as root, so as root the "postgres" user (made by
// Debian's package) or else "nobody" is used. In CI (CI=true) a missing
// PostgreSQL fails the test: CI installs it, so a skip there would hide that
// the script is no longer tested.
func postgresTools(t *testing.T) (bin string, cred *syscall.Credential) {
	t.Helper()
	unavailable := t.Skipf
	if os.Getenv("CI") == "true" {
		unavailable = t.Fatalf
	} else if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	if bin = findPostgres(); bin == "" {
		unavailable("no PostgreSQL server binaries (initdb, pg_ctl, postgres, psql) on PATH or under /usr/lib/postgresql/*/bin; " +
			"on Debian: apt-get install postgresql")
	}
	if os.Geteuid() != 0 {
		return bin, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if uid == 0 {
			continue
		}
		return bin, &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	unavailable("running as root and there is neither a postgres nor a nobody user to run PostgreSQL as")
	return "", nil
}

// findPostgres is the first directory holding all four PostgreSQL tools:
// where one of them on PATH really lives, else Debian's newest
// /usr/lib/postgresql/<major>/bin.
func findPostgres() string {
	var dirs []string
	for _, probe := range []string{"pg_ctl", "initdb", "postgres"} {
		if p, err := exec.LookPath(probe); err == nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				p = real
			}
			dirs = append(dirs, filepath.Dir(p))
		}
	}
	debian, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(debian, func(a, b string) int { return majorOf(b) - majorOf(a) })
	for _, dir := range append(dirs, debian...) {
		ok := true
		for _, tool := range []string{"initdb", "pg_ctl", "postgres", "psql"} {
			if _, err := os.Stat(filepath.Join(dir, tool)); err != nil {
				ok = false
			}
		}
		if ok {
			return dir
		}
	}
	return ""
}

// majorOf is the major version in /usr/lib/postgresql/<major>/bin.
func majorOf(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// The init container's script, run against a real data directory: after it,
// the role has the password from the environment, whatever the old one was,
// and the server is stopped again.
func TestApplyPasswordScriptWithPostgreSQL(t *testing.T) {
	bin, cred := postgresTools(t)
	dir, err := os.MkdirTemp("", "simpledb-script-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pgdata := filepath.Join(dir, "pgdata")
	sock := filepath.Join(dir, "run")
	if err := os.Mkdir(sock, 0o755); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		for _, p := range []string{dir, sock} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	const oldPassword = "initial-password"
	const newPassword = `it's a "new" pass\word; --`

	run := func(env []string, name string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append([]string{"PATH=" + bin + ":/usr/bin:/bin", "LANG=C", "HOME=" + dir}, env...)
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	must := func(out string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return out
	}
	scriptEnv := []string{"PGDATA=" + pgdata, "PGHOST=" + sock, "POSTGRES_USER=postgres", "POSTGRES_PASSWORD=" + newPassword}

	// An empty data directory is left to the image's entrypoint.
	if out := must(run(scriptEnv, "sh", "-c", applyPasswordScript)); !strings.Contains(out, "empty data directory") {
		t.Errorf("script on an empty data directory said: %s", out)
	}

	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(oldPassword+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	must(run(nil, filepath.Join(bin, "initdb"), "-D", pgdata, "-U", "postgres", "--pwfile="+pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"))
	// The image makes the data directory 0700 itself; a volume's fsGroup may have loosened it.
	if err := os.Chmod(pgdata, 0o770); err != nil {
		t.Fatal(err)
	}

	out := must(run(scriptEnv, "sh", "-c", applyPasswordScript))
	if !strings.Contains(out, "applied the password") || strings.Contains(out, newPassword) {
		t.Errorf("script output (must report success and never echo the password):\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(pgdata, "postmaster.pid")); !os.IsNotExist(err) {
		t.Errorf("the script left the server running")
	}

	// Start the server as the image would, on TCP, and log in.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	_ = l.Close()
	must(run(nil, filepath.Join(bin, "pg_ctl"), "-D", pgdata, "-w", "-l", filepath.Join(dir, "server.log"),
		"-o", fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %s -c unix_socket_directories=%s", port, sock), "start"))
	t.Cleanup(func() { _, _ = run(nil, filepath.Join(bin, "pg_ctl"), "-D", pgdata, "-m", "immediate", "-w", "stop") })

	login := func(password string) (string, error) {
		return run([]string{"PGPASSWORD=" + password}, filepath.Join(bin, "psql"), "--no-psqlrc", "-X",
			"-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", "postgres", "-tAc", "select 'logged in'")
	}
	if out, err := login(newPassword); err != nil || !strings.Contains(out, "logged in") {
		t.Errorf("cannot log in with the Secret's password: %v\n%s", err, out)
	}
	if out, err := login(oldPassword); err == nil {
		t.Errorf("the old password still works:\n%s", out)
	}
}
