// Package config binds command-line flags to FOOTFALL_* environment
// variables. Only main calls it; services receive plain Config values.
package config

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// EnvName is the environment variable that backs a flag:
// "kafka-brokers" is FOOTFALL_KAFKA_BROKERS.
func EnvName(flagName string) string {
	return "FOOTFALL_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(flagName))
}

// Parse fills fs from the environment first and the arguments second, so a
// flag given on the command line wins over its variable.
func Parse(fs *flag.FlagSet, args []string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		v, ok := os.LookupEnv(EnvName(f.Name))
		if !ok || err != nil {
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = fmt.Errorf("environment %s: %w", EnvName(f.Name), e)
		}
	})
	if err != nil {
		return err
	}
	return fs.Parse(args)
}

// StringList is a comma-separated flag value.
type StringList []string

func (l *StringList) String() string { return strings.Join(*l, ",") }

// Set replaces the list, so an environment default is overridden, not
// appended to, by the command line.
func (l *StringList) Set(s string) error {
	*l = nil
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}
