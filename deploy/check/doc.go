// Package check validates Footfall's deployment files the way a user's
// tooling would, without a Docker engine or a Kubernetes cluster:
//
//   - the Dockerfile, parsed and linted by BuildKit's own Dockerfile
//     frontend, with its build stage's `go build` run natively;
//   - deploy/compose/compose.yaml, loaded and validated by compose-go, the
//     compose-spec loader Docker Compose itself uses;
//   - deploy/kubernetes, rendered by kustomize's krusty (what `kubectl
//     kustomize` runs) and every object checked against the Kubernetes
//     JSON schemas of one release (vendored in schemas/, so the check runs
//     offline) and decoded strictly into k8s.io/api's types.
//
// The tests (make deploy-check) then assert what an operator would check
// by hand. It is its own Go module so that these libraries stay out of
// Footfall's go.mod.
package check
