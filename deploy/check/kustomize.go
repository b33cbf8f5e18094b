package check

import (
	"fmt"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Object is one rendered Kubernetes object.
type Object struct {
	APIVersion, Kind, Namespace, Name string
	// Map is the object as JSON-shaped data (what the schema sees).
	Map map[string]any
	// YAML is the object as kustomize prints it (what the typed decoder sees).
	YAML []byte
}

func (o Object) String() string { return o.Kind + "/" + o.Name }

// Render builds the kustomization in dir as `kubectl kustomize dir` does.
func Render(dir string) ([]Object, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var objs []Object
	for _, r := range m.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.CurId(), err)
		}
		var obj map[string]any
		if err := yaml.Unmarshal(y, &obj); err != nil {
			return nil, fmt.Errorf("%s: %w", r.CurId(), err)
		}
		objs = append(objs, Object{
			APIVersion: r.GetApiVersion(), Kind: r.GetKind(),
			Namespace: r.GetNamespace(), Name: r.GetName(),
			Map: obj, YAML: y,
		})
	}
	return objs, nil
}
