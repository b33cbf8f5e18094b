package check

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Binary is a built footfall binary, asked what it serves and which flags
// each command takes, so that the deployment files are checked against the
// code rather than against a list kept here.
type Binary struct{ Path string }

// Ports is `footfall ports`: each service's name and default port.
func (b Binary) Ports() (map[string]int, error) {
	out, err := exec.Command(b.Path, "ports").Output()
	if err != nil {
		return nil, fmt.Errorf("%s ports: %w", b.Path, err)
	}
	ports := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			return nil, fmt.Errorf("%s ports: unexpected line %q", b.Path, sc.Text())
		}
		p, err := strconv.Atoi(f[1])
		if err != nil {
			return nil, fmt.Errorf("%s ports: port of %s: %w", b.Path, f[0], err)
		}
		ports[f[0]] = p
	}
	if len(ports) == 0 {
		return nil, fmt.Errorf("%s ports listed no service", b.Path)
	}
	return ports, nil
}

// Commands are the subcommands `footfall --help` lists.
func (b Binary) Commands() (map[string]bool, error) {
	out, err := exec.Command(b.Path, "--help").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s --help: %w\n%s", b.Path, err, out)
	}
	cmds := map[string]bool{}
	_, list, _ := strings.Cut(string(out), "Commands:\n")
	for _, line := range strings.Split(list, "\n") {
		if !strings.HasPrefix(line, "  ") {
			break
		}
		cmds[strings.Fields(line)[0]] = true
	}
	if len(cmds) == 0 {
		return nil, fmt.Errorf("%s --help listed no command:\n%s", b.Path, out)
	}
	return cmds, nil
}

var flagLine = regexp.MustCompile(`^  -([a-z0-9][a-z0-9.-]*)`)

// EnvVars are the FOOTFALL_* variables command reads: one per flag its
// --help lists (internal/config.EnvName).
func (b Binary) EnvVars(command string) (map[string]bool, error) {
	out, err := exec.Command(b.Path, command, "--help").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s %s --help: %w\n%s", b.Path, command, err, out)
	}
	vars := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if m := flagLine.FindStringSubmatch(line); m != nil {
			vars[EnvName(m[1])] = true
		}
	}
	if len(vars) == 0 {
		return nil, fmt.Errorf("%s %s --help listed no flag", b.Path, command)
	}
	return vars, nil
}

// EnvName is internal/config.EnvName, repeated because this module does
// not import Footfall's: "kafka-brokers" is FOOTFALL_KAFKA_BROKERS.
func EnvName(flag string) string {
	return "FOOTFALL_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(flag))
}

// Sorted returns m's keys in order, for stable messages.
func Sorted[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
