package check

import (
	"fmt"
	"os"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Dockerfile is a Dockerfile as BuildKit's frontend reads it.
type Dockerfile struct {
	Stages   []instructions.Stage
	MetaArgs []instructions.ArgCommand
	// Warnings are the parser's and the linter's (BuildKit's build checks
	// that run at parse time), one line each.
	Warnings []string
}

// ParseDockerfile parses and lints path with BuildKit's parser and
// instruction decoder, the code `docker build` runs first.
func ParseDockerfile(path string) (*Dockerfile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	d := &Dockerfile{}
	for _, w := range res.Warnings {
		d.Warnings = append(d.Warnings, fmt.Sprintf("%s: %s", path, w.Short))
	}
	lint := linter.New(&linter.Config{
		ExperimentalAll: true,
		Warn: func(rule, _, _, msg string, loc []parser.Range) {
			line := 0
			if len(loc) > 0 {
				line = loc[0].Start.Line
			}
			d.Warnings = append(d.Warnings, fmt.Sprintf("%s:%d: %s: %s", path, line, rule, msg))
		},
	})
	d.Stages, d.MetaArgs, err = instructions.Parse(res.AST, lint)
	if err != nil {
		return nil, fmt.Errorf("instructions of %s: %w", path, err)
	}
	return d, nil
}

// Stage returns the stage named name.
func (d *Dockerfile) Stage(name string) (*instructions.Stage, bool) {
	for i := range d.Stages {
		if d.Stages[i].Name == name {
			return &d.Stages[i], true
		}
	}
	return nil, false
}

// Arg is the default value of a global ARG.
func (d *Dockerfile) Arg(name string) (string, bool) {
	for _, a := range d.MetaArgs {
		for _, kv := range a.Args {
			if kv.Key == name && kv.Value != nil {
				return *kv.Value, true
			}
		}
	}
	return "", false
}

// BaseImage is a stage's FROM with the global ARGs' defaults substituted.
func (d *Dockerfile) BaseImage(s *instructions.Stage) (string, error) {
	var env []string
	for _, a := range d.MetaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				env = append(env, kv.Key+"="+*kv.Value)
			}
		}
	}
	res, err := shell.NewLex('\\').ProcessWordWithMatches(s.BaseName, shell.EnvsFromSlice(env))
	if err != nil {
		return "", fmt.Errorf("FROM %s: %w", s.BaseName, err)
	}
	return res.Result, nil
}

// Env is what a stage's ENV instructions set.
func Env(s *instructions.Stage) map[string]string {
	env := map[string]string{}
	for _, c := range s.Commands {
		if e, ok := c.(*instructions.EnvCommand); ok {
			for _, kv := range e.Env {
				env[kv.Key] = kv.Value
			}
		}
	}
	return env
}

// GoBuild finds the stage's RUN whose shell command has a `go build` and
// returns that command's words, from "go" to the end of that command
// (up to a && or ;), as the shell would split them.
func GoBuild(s *instructions.Stage) ([]string, error) {
	for _, c := range s.Commands {
		run, ok := c.(*instructions.RunCommand)
		if !ok || !run.PrependShell {
			continue
		}
		line := strings.Join(run.CmdLine, " ")
		i := strings.Index(line, "go build")
		if i < 0 {
			continue
		}
		cmd := line[i:]
		if j := strings.IndexAny(cmd, ";&|"); j >= 0 {
			cmd = cmd[:j]
		}
		words, err := shell.NewLex('\\').ProcessWords(cmd, shell.EnvsFromSlice(nil))
		if err != nil {
			return nil, fmt.Errorf("split %q: %w", cmd, err)
		}
		return words, nil
	}
	return nil, fmt.Errorf("stage %s has no RUN with go build", s.Name)
}
