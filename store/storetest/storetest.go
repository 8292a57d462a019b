// Package storetest runs tests against both database backends: SQLite in
// a temporary directory, and a real PostgreSQL.
//
// PostgreSQL comes from ESIGN_TEST_DATABASE_URL when that is set (CI may
// point it at a server it started). Otherwise Main starts a throwaway
// server for the test binary: initdb into a temporary directory and
// postgres listening only on a Unix socket there, run as the "postgres"
// system user when the tests run as root (postgres refuses root). Missing
// PostgreSQL binaries fail the tests with a message saying what to
// install; they never skip.
//
// Each Open on PostgreSQL gets a fresh schema, dropped when the test ends,
// so tests sharing one server do not see each other's rows.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver

	"esign/store"
)

// EnvURL names the PostgreSQL server tests use; Main sets it when it
// starts its own.
const EnvURL = "ESIGN_TEST_DATABASE_URL"

// Backends returns the engines every store test runs against.
func Backends() []store.Backend { return []store.Backend{store.SQLite, store.Postgres} }

// Main runs the tests of a package that uses Open, with a PostgreSQL
// server available. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }
func Main(m *testing.M) int { return Run(m.Run) }

// Run is Main for a TestMain that wraps the tests in another harness
// too, such as hsmtest.Main:
//
//	os.Exit(storetest.Run(func() int { return hsmtest.Main(m) }))
func Run(run func() int) int {
	if os.Getenv(EnvURL) != "" {
		return run()
	}
	srv, err := startPostgres()
	if err != nil {
		fmt.Fprintf(os.Stderr, "storetest: cannot start PostgreSQL for the tests: %v\n", err)
		return 1
	}
	os.Setenv(EnvURL, srv.url)
	code := run()
	if err := srv.stop(); err != nil {
		fmt.Fprintf(os.Stderr, "storetest: stop PostgreSQL: %v\n", err)
	}
	return code
}

// Open returns a new, empty store on backend, closed when the test ends.
// opts.DataDir defaults to a fresh temporary directory; DatabaseURL is
// set for PostgreSQL.
func Open(t testing.TB, backend store.Backend, opts store.Options) *store.Store {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if backend == store.Postgres {
		opts.DatabaseURL = Schema(t)
	}
	st, err := store.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("open %s store: %v", backend, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Schema makes a fresh PostgreSQL schema on the test server and returns
// a URL whose search_path selects it; the schema is dropped when the test
// ends.
func Schema(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		t.Fatalf("%s is not set: call storetest.Main from TestMain", EnvURL)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("connect to test PostgreSQL: %v", err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema on test PostgreSQL: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		db.Exec("DROP SCHEMA " + schema + " CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// pgBinDirs are where Debian's postgresql packages put the server.
func pgBinDirs() []string {
	return []string{"/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin"}
}

// tempBase is where the server's directory goes: $TMPDIR, unless the
// socket path would be too long for a Unix socket (about 107 bytes) or,
// as root, the postgres user could not reach it; then /tmp.
func tempBase() string {
	base := os.TempDir()
	if len(base) > 60 {
		return "/tmp"
	}
	if os.Geteuid() == 0 {
		for d := base; d != "/" && d != "."; d = filepath.Dir(d) {
			if fi, err := os.Stat(d); err != nil || fi.Mode().Perm()&0o001 == 0 {
				return "/tmp"
			}
		}
	}
	return base
}

type server struct {
	dir      string
	data     string
	cred     *syscall.Credential
	postgres string
	cmd      *exec.Cmd
	url      string
	exited   chan struct{} // closed when the server process has ended
	waitErr  error         // the process's exit status, once exited
}

func findBin(name string) (string, error) {
	for _, d := range pgBinDirs() {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("PostgreSQL's %s was not found in %s or $PATH: install PostgreSQL (apt-get install -y postgresql) or set %s to a server's URL",
		name, strings.Join(pgBinDirs(), ", "), EnvURL)
}

// startPostgres runs initdb and postgres in a temporary directory.
func startPostgres() (*server, error) {
	initdb, err := findBin("initdb")
	if err != nil {
		return nil, err
	}
	postgres, err := findBin("postgres")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(tempBase(), "esign-pg-")
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir}
	// As root, run the server as the postgres system user the Debian
	// package creates, owning the directory.
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root needs the postgres system user to run the server (install PostgreSQL: apt-get install -y postgresql): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	s.data, s.cred, s.postgres = filepath.Join(dir, "data"), cred, postgres
	initCmd := s.command(initdb, "-D", s.data, "-U", "esign", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync")
	if out, err := initCmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	s.url = (&url.URL{Scheme: "postgres", User: url.User("esign"), Path: "/postgres",
		RawQuery: url.Values{"host": {dir}, "port": {"5432"}, "sslmode": {"disable"}}.Encode()}).String()
	if err := s.start(); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// command prepares a PostgreSQL program to run in the server's directory,
// as the postgres user when the tests run as root.
func (s *server) command(name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	c.Dir = s.dir
	c.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	if s.cred != nil {
		c.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return c
}

// start runs postgres on the initialised data directory and waits until
// it accepts connections.
func (s *server) start() error {
	// Only a Unix socket in our directory: no TCP port to collide with
	// other test runs. Durability is not wanted here.
	s.cmd = s.command(s.postgres, "-D", s.data, "-k", s.dir, "-p", "5432", "-c", "listen_addresses=",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200")
	logf, err := os.OpenFile(filepath.Join(s.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	err = s.cmd.Start()
	logf.Close()
	if err != nil {
		s.cmd = nil
		return fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan struct{})
	s.exited = exited
	cmd := s.cmd
	go func() {
		s.waitErr = cmd.Wait()
		close(exited)
	}()
	if err := s.waitReady(); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
		return fmt.Errorf("%w\n%s", err, log)
	}
	return nil
}

// waitReady polls until the server accepts connections, for at most a
// minute: a server that never comes up must not hang the tests.
func (s *server) waitReady() error {
	deadline := time.Now().Add(time.Minute)
	for {
		db, err := sql.Open("pgx", s.url)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err = db.PingContext(ctx)
			cancel()
			db.Close()
			if err == nil {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("postgres exited while starting: %v", s.waitErr)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("postgres did not accept connections within a minute")
		}
	}
}

// halt shuts the server down in fast mode (SIGINT: open transactions
// are rolled back, clients disconnected), keeping its data.
func (s *server) halt() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// stop shuts the server down (fast mode) and removes its directory.
func (s *server) stop() error {
	s.halt()
	return os.RemoveAll(s.dir)
}

// Server is a PostgreSQL server of a test's own, for tests that stop and
// restart it; other tests share the one Main starts.
type Server struct{ s *server }

// StartServer starts a throwaway PostgreSQL server, stopped and removed
// when the test ends.
func StartServer(tb testing.TB) *Server {
	tb.Helper()
	s, err := startPostgres()
	if err != nil {
		tb.Fatalf("storetest: start PostgreSQL: %v", err)
	}
	tb.Cleanup(func() { s.stop() })
	return &Server{s: s}
}

// URL is the server's address, with the database "postgres" of the
// superuser "esign".
func (srv *Server) URL() string { return srv.s.url }

// Stop shuts the server down in fast mode, keeping its data: clients
// see their connections end and new ones refused.
func (srv *Server) Stop(tb testing.TB) {
	tb.Helper()
	srv.s.halt()
}

// Start starts a stopped server again on the same data and address.
func (srv *Server) Start(tb testing.TB) {
	tb.Helper()
	if err := srv.s.start(); err != nil {
		tb.Fatalf("storetest: restart PostgreSQL: %v", err)
	}
}
