package config

import "fmt"

// InvalidError is a setting that cannot work: it names the flag (whose
// FOOTFALL_* twin is named the same way), the value given and what would do.
type InvalidError struct {
	Flag  string
	Value any
	Want  string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("--%s=%v (%s): want %s", e.Flag, e.Value, EnvName(e.Flag), e.Want)
}

// Invalid reports flag's value as unusable; want says the bound, e.g.
// "at least 1" or "a positive duration".
func Invalid(flag string, value any, want string) error {
	return &InvalidError{Flag: flag, Value: value, Want: want}
}
