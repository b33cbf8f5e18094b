package check

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// root is the repository, two folders up from deploy/check.
var root = func() string {
	abs, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		panic(err)
	}
	return abs
}()

// pending are services the deployment files already run but whose code
// is still being added: until `footfall --help` lists them, their
// command and variables cannot be checked against the binary (each test
// says so in its log). Delete a name once the binary has it.
var pending = map[string]bool{"alerts": true, "reviews": true, "moderator": true, "privacy": true}

// workers are the consumer-group services: more replicas than the topics
// have partitions would sit idle.
var workers = map[string]bool{"enricher": true, "loader": true, "alerts": true, "moderator": true}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.Path != "" {
		if err := os.RemoveAll(filepath.Dir(built.Path)); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

func parseDockerfile(t *testing.T) *Dockerfile {
	t.Helper()
	d, err := ParseDockerfile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var (
	buildOnce sync.Once
	built     Binary
	buildErr  error
)

// footfall builds the binary natively exactly as the Dockerfile's build
// stage does (its `go build` words and its ENV), once per test run.
func footfall(t *testing.T) Binary {
	t.Helper()
	buildOnce.Do(func() { built, buildErr = buildLikeDockerfile() })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

func buildLikeDockerfile() (Binary, error) {
	d, err := ParseDockerfile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		return Binary{}, err
	}
	stage, ok := d.Stage("build")
	if !ok {
		return Binary{}, fmt.Errorf("Dockerfile has no stage named build")
	}
	words, err := GoBuild(stage)
	if err != nil {
		return Binary{}, err
	}
	dir, err := os.MkdirTemp("", "footfall-deploy-check-")
	if err != nil {
		return Binary{}, err
	}
	out := filepath.Join(dir, "footfall")
	args := append([]string(nil), words[1:]...)
	for i, a := range args {
		switch {
		case a == "-o" && i+1 < len(args):
			args[i+1] = out
		case strings.HasPrefix(a, "-o="):
			args[i] = "-o=" + out
		}
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = os.Environ()
	for k, v := range Env(stage) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return Binary{}, fmt.Errorf("the Dockerfile's build, run natively (go %s): %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return Binary{Path: out}, nil
}

func ports(t *testing.T) map[string]int {
	t.Helper()
	p, err := footfall(t).Ports()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func commands(t *testing.T) map[string]bool {
	t.Helper()
	c, err := footfall(t).Commands()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// deployedPorts is the registry plus the pending services' ports, which
// the brief fixes until the binary declares them.
func deployedPorts(t *testing.T) map[string]int {
	p := ports(t)
	for name, port := range map[string]int{"alerts": 8085, "reviews": 8086, "moderator": 8087, "privacy": 8088} {
		if _, ok := p[name]; !ok {
			p[name] = port
		}
	}
	return p
}

// envVars is which FOOTFALL_* variables command reads, or nil (with a
// log line) for a pending command the binary does not know yet.
func envVars(t *testing.T, command string) map[string]bool {
	t.Helper()
	if !commands(t)[command] {
		if pending[command] {
			t.Logf("%s: not in this binary yet; its variables are not checked", command)
			return nil
		}
		t.Fatalf("footfall has no command %q (it has %v)", command, Sorted(commands(t)))
	}
	v, err := footfall(t).EnvVars(command)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var defaultPartitions = regexp.MustCompile(`-kafka-partitions int\n.*\(default (\d+)\)`)

// partitionsDefault is --kafka-partitions's default, from `migrate --help`.
func partitionsDefault(t *testing.T) string {
	out, err := exec.Command(footfall(t).Path, "migrate", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("footfall migrate --help: %v\n%s", err, out)
	}
	m := defaultPartitions.FindSubmatch(out)
	if m == nil {
		t.Fatalf("footfall migrate --help shows no default for -kafka-partitions:\n%s", out)
	}
	return string(m[1])
}

func TestDockerfileBuildsStaticBinary(t *testing.T) {
	b := footfall(t)
	f, err := elf.Open(b.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s asks for a dynamic loader: not static (CGO_ENABLED=0 missing?)", b.Path)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("%s links shared libraries %v (%v)", b.Path, libs, err)
	}
	if _, err := b.Ports(); err != nil {
		t.Error(err)
	}
}
