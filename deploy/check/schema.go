package check

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Schemas validates objects against the JSON schemas of one Kubernetes
// release, in kubernetes-validate's layout (schemas/update.py): a file per
// kind that refers to a shared _definitions.json. The strict variant is
// used, so an unknown or misspelt field is an error, as are a wrong type
// and a missing required field.
type Schemas struct {
	Dir      string
	compiler *jsonschema.Compiler
	cache    map[string]*jsonschema.Schema
}

const definitionsID = "https://kubernetes.io/api/_definitions.json"

// LoadSchemas reads the schemas in dir; nothing is fetched.
func LoadSchemas(dir string) (*Schemas, error) {
	c := jsonschema.NewCompiler()
	// Only the files added below exist: a reference to anything else is an
	// error, never a download.
	c.UseLoader(noLoader{})
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		id := definitionsID
		if e.Name() != "_definitions.json" {
			m, ok := doc.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: not an object", e.Name())
			}
			if id, ok = m["$id"].(string); !ok {
				return nil, fmt.Errorf("%s: no $id", e.Name())
			}
		}
		if err := c.AddResource(id, doc); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
	}
	return &Schemas{Dir: dir, compiler: c, cache: map[string]*jsonschema.Schema{}}, nil
}

type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("schema %s is not vendored (run schemas/update.py with the kind added)", url)
}

var groupOf = regexp.MustCompile(`^([^./]*)(?:\.[^/]*)?/`)

// Validate checks one object against its kind's schema.
func (s *Schemas) Validate(obj map[string]any) error {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	if apiVersion == "" || kind == "" {
		return fmt.Errorf("object without apiVersion or kind")
	}
	// https://kubernetes.io/api/deployment/apps/v1, .../service/v1
	id := "https://kubernetes.io/api/" + strings.ToLower(kind) + "/" + groupOf.ReplaceAllString(apiVersion, "$1/")
	sch, ok := s.cache[id]
	if !ok {
		var err error
		if sch, err = s.compiler.Compile(id); err != nil {
			return fmt.Errorf("no schema for %s %s in %s: %w", apiVersion, kind, s.Dir, err)
		}
		s.cache[id] = sch
	}
	// The validator wants JSON's own types (json.Number, []any, ...).
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	if err != nil {
		return err
	}
	return sch.Validate(doc)
}
