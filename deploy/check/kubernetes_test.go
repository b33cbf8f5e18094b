package check

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

var (
	kustomizations = map[string]string{
		"base":             filepath.Join(root, "deploy", "kubernetes", "base"),
		"overlays/example": filepath.Join(root, "deploy", "kubernetes", "overlays", "example"),
	}
	// schemaDir is the Kubernetes release the manifests are checked against.
	schemaDir = filepath.Join("schemas", "v1.37.0")
)

// manifests is one kustomization rendered, validated and decoded.
type manifests struct {
	objects      []Object
	typed        []runtime.Object
	deployments  []*appsv1.Deployment
	jobs         []*batchv1.Job
	pdbs         []*policyv1.PodDisruptionBudget
	hpas         []*autoscalingv2.HorizontalPodAutoscaler
	services     []*corev1.Service
	configMaps   []*corev1.ConfigMap
	secrets      []*corev1.Secret
	validateErrs []error
}

var (
	renderMu sync.Mutex
	rendered = map[string]*manifests{}
)

// render builds a kustomization once per run, checks every object against
// the Kubernetes schemas and decodes it strictly into k8s.io/api's types.
func render(t *testing.T, name string) *manifests {
	t.Helper()
	renderMu.Lock()
	defer renderMu.Unlock()
	if m, ok := rendered[name]; ok {
		return m
	}
	objs, err := Render(kustomizations[name])
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := LoadSchemas(schemaDir)
	if err != nil {
		t.Fatal(err)
	}
	m := &manifests{objects: objs}
	for _, o := range objs {
		if err := schemas.Validate(o.Map); err != nil {
			m.validateErrs = append(m.validateErrs, fmt.Errorf("%s: %s: %w", name, o, err))
			continue
		}
		typed, err := Decode(o)
		if err != nil {
			m.validateErrs = append(m.validateErrs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		m.typed = append(m.typed, typed)
		switch v := typed.(type) {
		case *appsv1.Deployment:
			m.deployments = append(m.deployments, v)
		case *batchv1.Job:
			m.jobs = append(m.jobs, v)
		case *policyv1.PodDisruptionBudget:
			m.pdbs = append(m.pdbs, v)
		case *autoscalingv2.HorizontalPodAutoscaler:
			m.hpas = append(m.hpas, v)
		case *corev1.Service:
			m.services = append(m.services, v)
		case *corev1.ConfigMap:
			m.configMaps = append(m.configMaps, v)
		case *corev1.Secret:
			m.secrets = append(m.secrets, v)
		}
	}
	rendered[name] = m
	return m
}

// forEach runs f on both renders.
func forEach(t *testing.T, f func(t *testing.T, m *manifests)) {
	for _, name := range Sorted(kustomizations) {
		t.Run(strings.ReplaceAll(name, "/", "_"), func(t *testing.T) { f(t, render(t, name)) })
	}
}

// Every object matches the Kubernetes 1.37 schema of its kind (unknown
// fields, wrong types and missing required fields are errors) and
// decodes strictly into its Go type.
func TestKubernetesSchemas(t *testing.T) {
	forEach(t, func(t *testing.T, m *manifests) {
		if len(m.objects) == 0 {
			t.Fatal("rendered nothing")
		}
		for _, err := range m.validateErrs {
			t.Error(err)
		}
		for _, o := range m.objects {
			if errs := validation.IsDNS1123Subdomain(o.Name); len(errs) > 0 {
				t.Errorf("%s: name: %v", o, errs)
			}
		}
	})
}

func component(meta metav1.ObjectMeta) string {
	return meta.Labels["app.kubernetes.io/component"]
}

// Every Footfall service runs as a Deployment whose pods Kubernetes can
// route to, restart and evict the way the service expects.
func TestKubernetesDeployments(t *testing.T) {
	forEach(t, func(t *testing.T, m *manifests) {
		byName := map[string]*appsv1.Deployment{}
		for _, d := range m.deployments {
			byName[component(d.ObjectMeta)] = d
		}
		for name, port := range deployedPorts(t) {
			d, ok := byName[name]
			if !ok {
				t.Errorf("no Deployment runs footfall %s", name)
				continue
			}
			sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
			if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				t.Errorf("%s: selector %v does not match its pods' labels %v", d.Name, d.Spec.Selector, d.Spec.Template.Labels)
			}
			if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g <= 25 {
				t.Errorf("%s: terminationGracePeriodSeconds must exceed --shutdown-grace (25s)", d.Name)
			}
			checkPod(t, d.Name, name, &d.Spec.Template.Spec, port)
		}
		for _, j := range m.jobs {
			checkPod(t, j.Name, "migrate", &j.Spec.Template.Spec, 0)
		}
		if len(m.jobs) != 1 {
			t.Errorf("want one Job, running footfall migrate; got %d", len(m.jobs))
		}
	})
}

// secretVars are the variables that carry keys or passwords: they must
// come from a Secret, never from a literal or a ConfigMap.
func isSecretVar(name string) bool {
	for _, s := range []string{"_KEYS", "_SECRETS", "_PASSWORD", "POSTGRES_URL", "COLLECTOR_SITES"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

func checkPod(t *testing.T, owner, command string, pod *corev1.PodSpec, port int) {
	t.Helper()
	if len(pod.Containers) != 1 {
		t.Errorf("%s: %d containers, want 1", owner, len(pod.Containers))
		return
	}
	c := pod.Containers[0]
	if len(c.Args) == 0 || c.Args[0] != command {
		t.Errorf("%s: args %v, want [%s]", owner, c.Args, command)
	}
	// Security: Pod Security "restricted".
	psc, csc := pod.SecurityContext, c.SecurityContext
	if !((psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot) || (csc != nil && csc.RunAsNonRoot != nil && *csc.RunAsNonRoot)) {
		t.Errorf("%s: runAsNonRoot is not set", owner)
	}
	if csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
		csc.Capabilities == nil || len(csc.Capabilities.Drop) != 1 || csc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("%s: want allowPrivilegeEscalation false and capabilities drop [ALL]", owner)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: want seccompProfile RuntimeDefault", owner)
	}
	// Resources: requests for scheduling (and the collector's CPU autoscaling), a memory limit.
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := c.Resources.Requests[r]; !ok || q.IsZero() {
			t.Errorf("%s: no %s request", owner, r)
		}
	}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok || q.Cmp(c.Resources.Requests[corev1.ResourceMemory]) < 0 {
		t.Errorf("%s: memory limit missing or below its request", owner)
	}
	// Environment: secrets by secretKeyRef; every variable one of the command's flags.
	vars := envVars(t, command)
	for _, e := range c.Env {
		if vars != nil && strings.HasPrefix(e.Name, "FOOTFALL_") && !vars[e.Name] {
			t.Errorf("%s: %s is none of footfall %s's flags", owner, e.Name, command)
		}
		if isSecretVar(e.Name) && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			t.Errorf("%s: %s must come from a Secret (valueFrom.secretKeyRef)", owner, e.Name)
		}
	}
	if port == 0 {
		return
	}
	// Probes: readiness on /readyz, liveness on /healthz, on the service's port.
	containerPort := func(p intstr.IntOrString) int {
		if p.Type == intstr.Int {
			return p.IntValue()
		}
		for _, cp := range c.Ports {
			if cp.Name == p.StrVal {
				return int(cp.ContainerPort)
			}
		}
		return -1
	}
	for _, probe := range []struct {
		kind, path string
		p          *corev1.Probe
	}{{"readiness", "/readyz", c.ReadinessProbe}, {"liveness", "/healthz", c.LivenessProbe}} {
		if probe.p == nil || probe.p.HTTPGet == nil {
			t.Errorf("%s: no %s httpGet probe", owner, probe.kind)
			continue
		}
		if probe.p.HTTPGet.Path != probe.path || containerPort(probe.p.HTTPGet.Port) != port {
			t.Errorf("%s: %s probe asks %s on port %v, want %s on %d", owner, probe.kind, probe.p.HTTPGet.Path, probe.p.HTTPGet.Port.String(), probe.path, port)
		}
	}
	addr := EnvName(command + "-addr")
	for _, e := range c.Env {
		if e.Name == addr {
			t.Errorf("%s sets %s: the image's %s=:%d is what the probes expect", owner, addr, addr, port)
		}
	}
}

// Keys come from the Secret footfall-secrets, which no manifest carries,
// and docs/deploy.md says how to create it with every key.
func TestKubernetesSecrets(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root, "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	forEach(t, func(t *testing.T, m *manifests) {
		for _, s := range m.secrets {
			if len(s.Data)+len(s.StringData) > 0 {
				t.Errorf("Secret %s carries data: keys never belong in the repository", s.Name)
			}
		}
		for _, cm := range m.configMaps {
			for k := range cm.Data {
				if isSecretVar(k) {
					t.Errorf("ConfigMap %s holds %s, a secret", cm.Name, k)
				}
			}
		}
		refs := map[string]bool{}
		for _, d := range m.deployments {
			collectSecretRefs(&d.Spec.Template.Spec, refs)
		}
		for _, j := range m.jobs {
			collectSecretRefs(&j.Spec.Template.Spec, refs)
		}
		if len(refs) == 0 {
			t.Fatal("no secretKeyRef at all")
		}
		for ref, optional := range refs {
			name, key, _ := strings.Cut(ref, "/")
			if name != "footfall-secrets" {
				t.Errorf("secretKeyRef to %s: want footfall-secrets", ref)
			}
			if !optional && !strings.Contains(string(doc), "--from-literal="+key+"=") {
				t.Errorf("docs/deploy.md does not create the required key %s (--from-literal=%s=...)", key, key)
			}
		}
	})
}

func collectSecretRefs(pod *corev1.PodSpec, refs map[string]bool) {
	for _, c := range pod.Containers {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				r := e.ValueFrom.SecretKeyRef
				ref := r.Name + "/" + r.Key
				optional := r.Optional != nil && *r.Optional
				refs[ref] = refs[ref] || optional // required once is required
				if !optional {
					refs[ref] = false
				}
			}
		}
	}
}

// Every Deployment has a PodDisruptionBudget that lets a node drain
// (allows one eviction) without taking the service away.
func TestKubernetesDisruptionBudgets(t *testing.T) {
	forEach(t, func(t *testing.T, m *manifests) {
		for _, d := range m.deployments {
			replicas := replicasOf(m, d)
			var pdb *policyv1.PodDisruptionBudget
			for _, p := range m.pdbs {
				sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
				if err == nil && sel.Matches(labels.Set(d.Spec.Template.Labels)) {
					pdb = p
				}
			}
			if pdb == nil {
				t.Errorf("%s: no PodDisruptionBudget selects its pods", d.Name)
				continue
			}
			switch {
			case pdb.Spec.MinAvailable != nil:
				min, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, int(replicas), true)
				if err != nil || min < 1 || min >= int(replicas) {
					t.Errorf("%s: minAvailable %s of %d replicas: want at least 1 and one eviction allowed", d.Name, pdb.Spec.MinAvailable.String(), replicas)
				}
			case pdb.Spec.MaxUnavailable != nil:
				max, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, int(replicas), false)
				if err != nil || max < 1 || (replicas > 1 && max >= int(replicas)) {
					t.Errorf("%s: maxUnavailable %s of %d replicas: want one eviction at a time", d.Name, pdb.Spec.MaxUnavailable.String(), replicas)
				}
			default:
				t.Errorf("%s: PodDisruptionBudget %s sets neither minAvailable nor maxUnavailable", d.Name, pdb.Name)
			}
		}
	})
}

// replicasOf is a Deployment's replicas, or its autoscaler's minimum.
func replicasOf(m *manifests, d *appsv1.Deployment) int32 {
	if h := hpaFor(m, d); h != nil && h.Spec.MinReplicas != nil {
		return *h.Spec.MinReplicas
	}
	if d.Spec.Replicas != nil {
		return *d.Spec.Replicas
	}
	return 1
}

func hpaFor(m *manifests, d *appsv1.Deployment) *autoscalingv2.HorizontalPodAutoscaler {
	for _, h := range m.hpas {
		if h.Spec.ScaleTargetRef.Kind == "Deployment" && h.Spec.ScaleTargetRef.Name == d.Name {
			return h
		}
	}
	return nil
}

// The collector scales on CPU; the HTTP APIs run two or more replicas;
// the consumer groups run no more replicas than the topics have partitions.
func TestKubernetesScaling(t *testing.T) {
	forEach(t, func(t *testing.T, m *manifests) {
		partitions := partitionsDefault(t)
		source := "footfall migrate's default --kafka-partitions"
		for _, cm := range m.configMaps {
			if v, ok := cm.Data["FOOTFALL_KAFKA_PARTITIONS"]; ok {
				partitions, source = v, "ConfigMap "+cm.Name
			}
		}
		n, err := strconv.Atoi(partitions)
		if err != nil || n < 1 {
			t.Fatalf("partition count %q from %s", partitions, source)
		}
		t.Logf("partitions per topic: %d (%s)", n, source)
		for _, d := range m.deployments {
			name := component(d.ObjectMeta)
			h := hpaFor(m, d)
			switch {
			case name == "collector":
				if h == nil {
					t.Errorf("%s: no HorizontalPodAutoscaler", d.Name)
					break
				}
				if d.Spec.Replicas != nil {
					t.Errorf("%s sets replicas: its HorizontalPodAutoscaler owns them (kubectl apply would reset them)", d.Name)
				}
				cpu := false
				for _, metric := range h.Spec.Metrics {
					cpu = cpu || (metric.Type == autoscalingv2.ResourceMetricSourceType && metric.Resource != nil && metric.Resource.Name == corev1.ResourceCPU &&
						metric.Resource.Target.Type == autoscalingv2.UtilizationMetricType && metric.Resource.Target.AverageUtilization != nil)
				}
				if !cpu {
					t.Errorf("%s: autoscaler %s does not scale on CPU utilization", d.Name, h.Name)
				}
				if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
					t.Errorf("%s: autoscaler bounds %v..%d: want at least 2, so one can be drained", d.Name, h.Spec.MinReplicas, h.Spec.MaxReplicas)
				}
			case workers[name]:
				most := replicasOf(m, d)
				if h != nil {
					most = h.Spec.MaxReplicas
				}
				if int(most) > n {
					t.Errorf("%s: up to %d replicas, but topics have %d partitions (%s): the rest would sit idle", d.Name, most, n, source)
				}
			default:
				if replicasOf(m, d) < 2 {
					t.Errorf("%s: an HTTP API with one replica goes away on every rollout or drain", d.Name)
				}
			}
		}
		for _, h := range m.hpas {
			found := false
			for _, d := range m.deployments {
				found = found || h.Spec.ScaleTargetRef.Name == d.Name
			}
			if !found {
				t.Errorf("autoscaler %s targets %s, which is no Deployment here", h.Name, h.Spec.ScaleTargetRef.Name)
			}
		}
	})
}

// The collector's spool fits in its volume: when full it answers 503
// instead of being evicted for using more than the volume allows.
func TestKubernetesCollectorSpool(t *testing.T) {
	forEach(t, func(t *testing.T, m *manifests) {
		for _, d := range m.deployments {
			if component(d.ObjectMeta) != "collector" {
				continue
			}
			pod := d.Spec.Template.Spec
			env := map[string]string{}
			for _, e := range pod.Containers[0].Env {
				env[e.Name] = e.Value
			}
			dir := env["FOOTFALL_COLLECTOR_SPOOL_DIR"]
			var volume string
			for _, vm := range pod.Containers[0].VolumeMounts {
				if vm.MountPath == dir {
					volume = vm.Name
				}
			}
			for _, v := range pod.Volumes {
				if v.Name != volume || v.EmptyDir == nil {
					continue
				}
				max, err := resource.ParseQuantity(env["FOOTFALL_COLLECTOR_SPOOL_MAX_BYTES"])
				if err != nil || v.EmptyDir.SizeLimit == nil || max.Cmp(*v.EmptyDir.SizeLimit) >= 0 {
					t.Errorf("%s: spool max %q must be below the volume's sizeLimit %v", d.Name, env["FOOTFALL_COLLECTOR_SPOOL_MAX_BYTES"], v.EmptyDir.SizeLimit)
				}
				return
			}
			if volume == "" {
				t.Errorf("%s: the spool directory %q is on no volume (the root filesystem is read-only)", d.Name, dir)
			}
		}
	})
}

// Kafka, ClickHouse and PostgreSQL are external: the settings name
// Services of type ExternalName that an overlay points at them.
func TestKubernetesExternalServices(t *testing.T) {
	forEach(t, func(t *testing.T, m *manifests) {
		external := map[string]string{}
		for _, s := range m.services {
			if s.Spec.Type == corev1.ServiceTypeExternalName {
				external[s.Name] = s.Spec.ExternalName
			}
		}
		var data map[string]string
		for _, cm := range m.configMaps {
			if cm.Name == "footfall-config" {
				data = cm.Data
			}
		}
		vars := map[string]bool{}
		for _, c := range []string{"all", "migrate"} {
			for v := range envVars(t, c) {
				vars[v] = true
			}
		}
		for k := range data {
			if !vars[k] {
				t.Errorf("ConfigMap footfall-config: %s is no flag of footfall all or migrate", k)
			}
		}
		for _, k := range []string{"FOOTFALL_KAFKA_BROKERS", "FOOTFALL_CLICKHOUSE_ADDR"} {
			host := hostOf("x://" + data[k])
			if _, ok := external[host]; !ok {
				t.Errorf("%s=%q: not an ExternalName Service of this kustomization (%v)", k, data[k], external)
			}
		}
		if _, ok := external["footfall-postgres"]; !ok {
			t.Error("no ExternalName Service footfall-postgres for the postgres-url secret to name")
		}
	})
}

// The example overlay is deployable as it is: one namespace, and images
// from a registry with a pinned tag.
func TestKubernetesOverlayExample(t *testing.T) {
	m := render(t, "overlays/example")
	var ns string
	for _, o := range m.objects {
		if o.Kind == "Namespace" {
			ns = o.Name
		}
	}
	if ns == "" {
		t.Fatal("the overlay creates no Namespace")
	}
	for _, o := range m.objects {
		if o.Kind != "Namespace" && o.Namespace != ns {
			t.Errorf("%s is in namespace %q, want %q", o, o.Namespace, ns)
		}
	}
	pods := []*corev1.PodSpec{}
	for _, d := range m.deployments {
		pods = append(pods, &d.Spec.Template.Spec)
	}
	for _, j := range m.jobs {
		pods = append(pods, &j.Spec.Template.Spec)
	}
	for _, p := range pods {
		for _, c := range p.Containers {
			if tag := imageTag(c.Image); tag == "" || tag == "latest" || !strings.Contains(c.Image, "/") {
				t.Errorf("container %s: image %q: want a registry image with a pinned tag", c.Name, c.Image)
			}
		}
	}
}

// The checks above are only as good as the validation: a misspelt field,
// a missing required field and a wrong type must each fail.
func TestKubernetesValidationRejectsMistakes(t *testing.T) {
	schemas, err := LoadSchemas(schemaDir)
	if err != nil {
		t.Fatal(err)
	}
	base := `apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  replicas: 1
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
        - name: x
          image: x:1
          readinessProbe: {httpGet: {path: /readyz, port: 8080}}
`
	for name, mutate := range map[string][2]string{
		"misspelt field": {"readinessProbe: {httpGet: {path: /readyz, port: 8080}}", "readinessProbe: {httpGet: {pth: /readyz, port: 8080}}"},
		"missing name":   {"- name: x\n          image: x:1", "- image: x:1"},
		"wrong type":     {"replicas: 1", "replicas: one"},
		"unknown kind":   {"kind: Deployment", "kind: Deploymnet"},
	} {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			y := strings.Replace(base, mutate[0], mutate[1], 1)
			if y == base {
				t.Fatal("mutation did not apply")
			}
			o := Object{YAML: []byte(y)}
			if err := yaml.Unmarshal(o.YAML, &o.Map); err != nil {
				t.Fatal(err)
			}
			if err := schemas.Validate(o.Map); err == nil {
				t.Errorf("the schema accepted a Deployment with a %s", name)
			} else {
				t.Logf("schema: %v", err)
			}
		})
	}
	// And the unmutated one passes both.
	o := Object{YAML: []byte(base)}
	if err := yaml.Unmarshal(o.YAML, &o.Map); err != nil {
		t.Fatal(err)
	}
	if err := schemas.Validate(o.Map); err != nil {
		t.Errorf("a valid Deployment failed: %v", err)
	}
	if _, err := Decode(o); err != nil {
		t.Errorf("a valid Deployment failed to decode: %v", err)
	}
	o.YAML = []byte(strings.Replace(base, "replicas: 1", "replicas: 1\n  replica: 2", 1))
	if _, err := Decode(o); err == nil {
		t.Error("the strict decoder accepted an unknown field")
	}
}

// Every ClusterIP Service reaches the pods of one Deployment, on a port
// their container declares.
func TestKubernetesServicesReachPods(t *testing.T) {
	forEach(t, func(t *testing.T, m *manifests) {
		for _, s := range m.services {
			if s.Spec.Type == corev1.ServiceTypeExternalName {
				continue
			}
			var target *appsv1.Deployment
			for _, d := range m.deployments {
				if labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
					if target != nil {
						t.Errorf("Service %s selects the pods of both %s and %s", s.Name, target.Name, d.Name)
					}
					target = d
				}
			}
			if target == nil || len(s.Spec.Selector) == 0 {
				t.Errorf("Service %s selects no Deployment's pods", s.Name)
				continue
			}
			for _, p := range s.Spec.Ports {
				found := false
				for _, cp := range target.Spec.Template.Spec.Containers[0].Ports {
					found = found || (p.TargetPort.Type == intstr.String && cp.Name == p.TargetPort.StrVal) ||
						(p.TargetPort.Type == intstr.Int && cp.ContainerPort == p.TargetPort.IntVal)
				}
				if !found {
					t.Errorf("Service %s: targetPort %s is no port of %s", s.Name, p.TargetPort.String(), target.Name)
				}
			}
		}
	})
}
