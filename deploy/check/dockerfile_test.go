package check

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

func TestDockerfileLintsClean(t *testing.T) {
	for _, w := range parseDockerfile(t).Warnings {
		t.Error(w)
	}
}

func TestDockerfileStages(t *testing.T) {
	d := parseDockerfile(t)
	if len(d.Stages) < 2 {
		t.Fatalf("want a multi-stage build, got %d stage(s)", len(d.Stages))
	}
	seen := map[string]bool{}
	for _, s := range d.Stages {
		if s.Name == "" {
			t.Errorf("stage FROM %s has no name (AS ...)", s.BaseName)
		}
		for _, c := range s.Commands {
			if cp, ok := c.(*instructions.CopyCommand); ok && cp.From != "" && !seen[cp.From] {
				t.Errorf("stage %s: COPY --from=%s names no earlier stage", s.Name, cp.From)
			}
			if _, ok := c.(*instructions.AddCommand); ok {
				t.Errorf("stage %s: ADD (use COPY: nothing is fetched at build time but modules)", s.Name)
			}
		}
		seen[s.Name] = true
		img, err := d.BaseImage(&s)
		if err != nil {
			t.Fatal(err)
		}
		if tag := imageTag(img); tag == "" || tag == "latest" {
			t.Errorf("stage %s: base image %s has no pinned tag", s.Name, img)
		}
	}
	if _, ok := d.Stage("build"); !ok {
		t.Error("no stage named build (the test runs its go build)")
	}
}

// The image runs as a non-root user, its one binary as entrypoint.
func TestDockerfileRuntimeStage(t *testing.T) {
	d := parseDockerfile(t)
	final := &d.Stages[len(d.Stages)-1]
	var user string
	var entry []string
	copied := map[string]bool{}
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.EntrypointCommand:
			entry = c.CmdLine
			if c.PrependShell {
				t.Error("ENTRYPOINT in shell form: signals would go to /bin/sh, not footfall (use the JSON form)")
			}
		case *instructions.CopyCommand:
			for _, src := range c.SourcePaths {
				copied[filepath.Join(c.DestPath, filepath.Base(src))] = true
				copied[c.DestPath] = true
			}
		}
	}
	name, _, _ := strings.Cut(user, ":")
	if uid, err := strconv.Atoi(name); name == "" || name == "root" || (err == nil && uid == 0) {
		t.Errorf("final stage %s runs as %q: want a non-root USER (numeric, so Kubernetes' runAsNonRoot can verify it)", final.Name, user)
	} else if err != nil {
		t.Errorf("final stage USER %q: use a numeric uid so that runAsNonRoot can verify it", user)
	}
	if len(entry) == 0 || !copied[entry[0]] {
		t.Errorf("ENTRYPOINT %v is not the binary copied into the final stage (copied: %v)", entry, Sorted(copied))
	}
}

// Inside a container every service listens on all interfaces, on the
// port the registry gives it, and the image says which ports it serves.
func TestDockerfileListensOnEveryServicePort(t *testing.T) {
	d := parseDockerfile(t)
	final := &d.Stages[len(d.Stages)-1]
	env := Env(final)
	exposed := map[string]bool{}
	for _, c := range final.Commands {
		if e, ok := c.(*instructions.ExposeCommand); ok {
			for _, p := range e.Ports {
				exposed[p] = true
			}
		}
	}
	for name, port := range deployedPorts(t) {
		v := EnvName(name + "-addr")
		if want := ":" + strconv.Itoa(port); env[v] != want {
			t.Errorf("%s: ENV %s=%q, want %q", name, v, env[v], want)
		}
		if !exposed[strconv.Itoa(port)] {
			t.Errorf("%s: port %d not in EXPOSE", name, port)
		}
	}
}

// The build stage's Go is the release go.mod asks for.
func TestDockerfileGoVersion(t *testing.T) {
	d := parseDockerfile(t)
	stage, _ := d.Stage("build")
	if stage == nil {
		t.Fatal("no build stage")
	}
	img, err := d.BaseImage(stage)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var goVersion string
	for _, line := range strings.Split(string(mod), "\n") {
		if v, ok := strings.CutPrefix(line, "go "); ok {
			goVersion = strings.TrimSpace(v)
		}
	}
	// The golang images set GOTOOLCHAIN=local: an older Go than go.mod's
	// would refuse to build rather than fetch a newer one.
	tag := strings.TrimPrefix(img, "golang:")
	tag, _, _ = strings.Cut(tag, "-")
	if !strings.HasPrefix(img, "golang:") || !sameMinorNotOlder(tag, goVersion) {
		t.Errorf("build stage FROM %s: want golang:%s or a later patch of it (go.mod says go %s)", img, goVersion, goVersion)
	}
	if Env(stage)["CGO_ENABLED"] != "0" {
		t.Error("build stage does not set CGO_ENABLED=0: the binary would need a C library at run time")
	}
}

// .dockerignore keeps the build context small and drops nothing the
// build reads: every Go file and embedded file of the binary's packages.
func TestDockerignoreKeepsBuildInputs(t *testing.T) {
	f, err := os.Open(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	patterns, err := ignorefile.ReadAll(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{".git/HEAD", ".data/footfall/spool", "sdk-js/node_modules/x/package.json"} {
		if ok, _ := pm.MatchesOrParentMatches(p); !ok {
			t.Errorf(".dockerignore sends %s to the build context", p)
		}
	}
	inputs := []string{"go.mod", "go.sum"}
	cmd := exec.Command("go", "list", "-deps", "-json=Dir,GoFiles,EmbedFiles,Module", "./cmd/footfall")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var pkg struct {
			Dir                 string
			GoFiles, EmbedFiles []string
			Module              *struct{ Main bool }
		}
		if err := dec.Decode(&pkg); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if pkg.Module == nil || !pkg.Module.Main {
			continue
		}
		rel, err := filepath.Rel(root, pkg.Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range append(pkg.GoFiles, pkg.EmbedFiles...) {
			inputs = append(inputs, filepath.ToSlash(filepath.Join(rel, f)))
		}
	}
	if len(inputs) < 10 {
		t.Fatalf("go list found only %v", inputs)
	}
	for _, p := range inputs {
		if ok, err := pm.MatchesOrParentMatches(p); err != nil || ok {
			t.Errorf(".dockerignore drops %s, which the build needs (%v)", p, err)
		}
	}
}

// sameMinorNotOlder: v has want's major.minor and at least its patch.
func sameMinorNotOlder(v, want string) bool {
	a, b := strings.Split(v, "."), strings.Split(want, ".")
	if len(a) != 3 || len(b) != 3 || a[0] != b[0] || a[1] != b[1] {
		return false
	}
	pa, errA := strconv.Atoi(a[2])
	pb, errB := strconv.Atoi(b[2])
	return errA == nil && errB == nil && pa >= pb
}

// imageTag is the tag of an image reference ("" when none).
func imageTag(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[i:]
	}
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		return ref[i+1:]
	}
	return ""
}
