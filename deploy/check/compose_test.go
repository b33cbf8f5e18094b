package check

import (
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"sigs.k8s.io/yaml"
)

var composeDir = filepath.Join(root, "deploy", "compose")

// loadCompose loads compose.yaml with .env.example as its .env, as a user
// who copied it would.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	p, err := LoadCompose(context.Background(), filepath.Join(composeDir, "compose.yaml"), filepath.Join(composeDir, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// footfallServices are the compose services built from the repository's
// Dockerfile, by the command they run.
func footfallServices(t *testing.T, p *types.Project) map[string]types.ServiceConfig {
	out := map[string]types.ServiceConfig{}
	for _, s := range p.Services {
		if s.Build == nil {
			continue
		}
		if s.Build.Context != root || s.Build.Dockerfile != "Dockerfile" {
			t.Errorf("%s builds %s/%s, want the repository's Dockerfile", s.Name, s.Build.Context, s.Build.Dockerfile)
		}
		if len(s.Command) != 1 {
			t.Errorf("%s: command %v, want one footfall command", s.Name, s.Command)
			continue
		}
		out[s.Command[0]] = s
	}
	return out
}

func TestComposeRunsEveryService(t *testing.T) {
	p := loadCompose(t)
	ff := footfallServices(t, p)
	ports := deployedPorts(t)
	for name, port := range ports {
		s, ok := ff[name]
		if !ok {
			t.Errorf("no compose service runs `footfall %s`", name)
			continue
		}
		if dep, ok := s.DependsOn["migrate"]; !ok || dep.Condition != types.ServiceConditionCompletedSuccessfully {
			t.Errorf("%s does not wait for migrate to complete (depends_on %v)", s.Name, s.DependsOn)
		}
		if s.HealthCheck == nil || s.HealthCheck.Disable {
			t.Errorf("%s has no healthcheck", s.Name)
		} else if want := "http://127.0.0.1:" + strconv.Itoa(port) + "/readyz"; !slices.Contains(s.HealthCheck.Test, want) {
			t.Errorf("%s: healthcheck %v does not ask %s", s.Name, s.HealthCheck.Test, want)
		}
		if s.StopGracePeriod == nil || *s.StopGracePeriod <= types.Duration(25e9) {
			t.Errorf("%s: stop_grace_period must exceed --shutdown-grace (25s) so that a drain is not killed", s.Name)
		}
		checkEnv(t, name, s.Environment)
	}
	for cmd := range ff {
		if _, ok := ports[cmd]; !ok && cmd != "migrate" {
			t.Errorf("compose runs `footfall %s`, which is not a service", cmd)
		}
	}
	m, ok := ff["migrate"]
	if !ok {
		t.Fatal("no compose service runs footfall migrate")
	}
	checkEnv(t, "migrate", m.Environment)
}

// checkEnv: every FOOTFALL_* variable a container gets is one of its
// command's flags, so a misspelt name cannot be silently ignored.
func checkEnv(t *testing.T, command string, env types.MappingWithEquals) {
	t.Helper()
	vars := envVars(t, command)
	if vars == nil {
		return
	}
	for k := range env {
		if strings.HasPrefix(k, "FOOTFALL_") && !vars[k] {
			t.Errorf("footfall %s gets %s, which is none of its flags", command, k)
		}
	}
}

// Every service reports its health, or is a one-shot task that waits for
// healthy services: `docker compose up --wait` then means "working".
func TestComposeHealthchecks(t *testing.T) {
	p := loadCompose(t)
	for _, s := range p.Services {
		if s.HealthCheck != nil && !s.HealthCheck.Disable && len(s.HealthCheck.Test) > 0 {
			continue
		}
		healthy := len(s.DependsOn) > 0
		for dep, c := range s.DependsOn {
			if c.Condition != types.ServiceConditionHealthy {
				t.Errorf("%s has no healthcheck and depends on %s without condition service_healthy", s.Name, dep)
				healthy = false
			}
		}
		if !healthy {
			t.Errorf("%s has no healthcheck and waits for no healthy service", s.Name)
		}
	}
}

// Images name current major versions and a pinned tag.
func TestComposeImages(t *testing.T) {
	p := loadCompose(t)
	pom, err := os.ReadFile(filepath.Join(root, "deploy", "local", "kafka", "pom.xml"))
	if err != nil {
		t.Fatal(err)
	}
	localKafka := regexp.MustCompile(`<kafka.version>([^<]+)</kafka.version>`).FindSubmatch(pom)
	if localKafka == nil {
		t.Fatal("deploy/local/kafka/pom.xml names no kafka.version")
	}
	want := map[string]func(tag string) bool{
		"apache/kafka":                 func(tag string) bool { return tag == string(localKafka[1]) && major(tag) == 4 },
		"clickhouse/clickhouse-server": func(tag string) bool { return major(tag) == 25 },
		"clickhouse/clickhouse-keeper": func(tag string) bool { return major(tag) == 25 },
		"postgres":                     func(tag string) bool { return major(tag) == 17 },
		"grafana/grafana":              func(tag string) bool { return major(tag) >= 12 },
		"prom/prometheus":              func(tag string) bool { return major(strings.TrimPrefix(tag, "v")) == 3 },
	}
	found := map[string]string{}
	for _, s := range p.Services {
		if s.Build != nil {
			continue
		}
		tag := imageTag(s.Image)
		if tag == "" || tag == "latest" {
			t.Errorf("%s: image %s has no pinned tag", s.Name, s.Image)
			continue
		}
		repo := strings.TrimSuffix(s.Image, ":"+tag)
		ok, known := want[repo]
		if !known {
			t.Errorf("%s: image %s is not one this test knows the version of", s.Name, s.Image)
			continue
		}
		if !ok(tag) {
			t.Errorf("%s: image %s is not the expected release (Kafka: %s as deploy/local; ClickHouse 25.x; PostgreSQL 17; Grafana 12 or later; Prometheus 3)", s.Name, s.Image, localKafka[1])
		}
		found[repo] = tag
	}
	for repo := range want {
		if _, ok := found[repo]; !ok {
			t.Errorf("no service runs %s", repo)
		}
	}
	if found["clickhouse/clickhouse-keeper"] != found["clickhouse/clickhouse-server"] {
		t.Errorf("ClickHouse Keeper %s and server %s should be the same release", found["clickhouse/clickhouse-keeper"], found["clickhouse/clickhouse-server"])
	}
}

// major is the number before the first dot of a version tag, or -1.
func major(tag string) int {
	tag, _, _ = strings.Cut(tag, "-")
	m, err := strconv.Atoi(strings.SplitN(tag, ".", 2)[0])
	if err != nil {
		return -1
	}
	return m
}

func serviceByImage(t *testing.T, p *types.Project, repo string) types.ServiceConfig {
	t.Helper()
	for _, s := range p.Services {
		if strings.HasPrefix(s.Image, repo+":") {
			return s
		}
	}
	t.Fatalf("no service runs %s", repo)
	return types.ServiceConfig{}
}

func env(s types.ServiceConfig, k string) string {
	if v := s.Environment[k]; v != nil {
		return *v
	}
	return ""
}

// Kafka runs in KRaft mode, and Footfall reaches it where it advertises.
func TestComposeKafkaKRaft(t *testing.T) {
	p := loadCompose(t)
	k := serviceByImage(t, p, "apache/kafka")
	roles := strings.Split(env(k, "KAFKA_PROCESS_ROLES"), ",")
	if !slices.Contains(roles, "broker") || !slices.Contains(roles, "controller") {
		t.Errorf("KAFKA_PROCESS_ROLES=%q: want broker,controller (KRaft, one node)", env(k, "KAFKA_PROCESS_ROLES"))
	}
	if env(k, "KAFKA_CONTROLLER_QUORUM_VOTERS") == "" || !strings.Contains(env(k, "KAFKA_LISTENERS"), env(k, "KAFKA_CONTROLLER_LISTENER_NAMES")+"://") {
		t.Errorf("controller quorum or listener missing: voters %q, listeners %q", env(k, "KAFKA_CONTROLLER_QUORUM_VOTERS"), env(k, "KAFKA_LISTENERS"))
	}
	for key := range k.Environment {
		if strings.Contains(key, "ZOOKEEPER") {
			t.Errorf("%s: Kafka 4 has no ZooKeeper mode", key)
		}
	}
	advertised := env(k, "KAFKA_ADVERTISED_LISTENERS")
	for _, s := range footfallServices(t, p) {
		if b := env(s, "FOOTFALL_KAFKA_BROKERS"); b != "" && !strings.Contains(advertised, "://"+b) {
			t.Errorf("%s: FOOTFALL_KAFKA_BROKERS=%s is not an advertised listener (%s)", s.Name, b, advertised)
		}
	}
}

// ClickHouse uses ClickHouse Keeper, at the port Keeper listens on.
func TestComposeClickHouseKeeper(t *testing.T) {
	p := loadCompose(t)
	keeper := serviceByImage(t, p, "clickhouse/clickhouse-keeper")
	server := serviceByImage(t, p, "clickhouse/clickhouse-server")
	var keeperConf struct {
		Server struct {
			TCPPort     int `xml:"tcp_port"`
			HTTPControl struct {
				Port      int    `xml:"port"`
				Readiness string `xml:"readiness>endpoint"`
			} `xml:"http_control"`
		} `xml:"keeper_server"`
	}
	readMounted(t, keeper, "/etc/clickhouse-keeper/keeper_config.xml", &keeperConf)
	if keeperConf.Server.TCPPort == 0 {
		t.Fatal("keeper config has no keeper_server/tcp_port")
	}
	ready := "http://127.0.0.1:" + strconv.Itoa(keeperConf.Server.HTTPControl.Port) + keeperConf.Server.HTTPControl.Readiness
	if keeper.HealthCheck == nil || !slices.Contains(keeper.HealthCheck.Test, ready) {
		t.Errorf("Keeper's healthcheck should ask its readiness endpoint %s", ready)
	}
	var client struct {
		Nodes []struct {
			Host string `xml:"host"`
			Port int    `xml:"port"`
		} `xml:"zookeeper>node"`
	}
	readMounted(t, server, "/etc/clickhouse-server/config.d/footfall.xml", &client)
	if len(client.Nodes) == 0 {
		t.Fatal("ClickHouse server's config.d has no <zookeeper> node")
	}
	for _, n := range client.Nodes {
		if n.Host != keeper.Name || n.Port != keeperConf.Server.TCPPort {
			t.Errorf("ClickHouse server points at Keeper %s:%d, Keeper is %s:%d", n.Host, n.Port, keeper.Name, keeperConf.Server.TCPPort)
		}
	}
	if d, ok := server.DependsOn[keeper.Name]; !ok || d.Condition != types.ServiceConditionHealthy {
		t.Errorf("ClickHouse server should wait for a healthy Keeper")
	}
}

// readMounted parses the XML file bind-mounted at target in s.
func readMounted(t *testing.T, s types.ServiceConfig, target string, v any) {
	t.Helper()
	for _, m := range s.Volumes {
		if m.Target == target && m.Type == types.VolumeTypeBind {
			b, err := os.ReadFile(m.Source)
			if err != nil {
				t.Fatal(err)
			}
			if err := xml.Unmarshal(b, v); err != nil {
				t.Fatalf("%s: %v", m.Source, err)
			}
			return
		}
	}
	t.Fatalf("%s mounts nothing at %s", s.Name, target)
}

// Grafana gets deploy/grafana's provisioning as it is in the repository,
// every variable its data sources read, and the ClickHouse plugin.
func TestComposeGrafanaProvisioning(t *testing.T) {
	p := loadCompose(t)
	g := serviceByImage(t, p, "grafana/grafana")
	grafanaDir := filepath.Join(root, "deploy", "grafana")
	var provider struct {
		Providers []struct {
			Options struct{ Path string }
		}
	}
	b, err := os.ReadFile(filepath.Join(grafanaDir, "provisioning", "dashboards", "footfall.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &provider); err != nil || len(provider.Providers) == 0 {
		t.Fatalf("dashboards provider: %v", err)
	}
	mounts := map[string]string{}
	for _, m := range g.Volumes {
		if m.Type == types.VolumeTypeBind {
			mounts[m.Target] = m.Source
			if !m.ReadOnly {
				t.Errorf("grafana mounts %s read-write", m.Source)
			}
		}
	}
	for target, src := range map[string]string{
		"/etc/grafana/provisioning/datasources": filepath.Join(grafanaDir, "provisioning", "datasources"),
		"/etc/grafana/provisioning/dashboards":  filepath.Join(grafanaDir, "provisioning", "dashboards"),
		provider.Providers[0].Options.Path:      filepath.Join(grafanaDir, "dashboards"),
	} {
		if mounts[target] != src {
			t.Errorf("grafana: %s should be mounted from %s, got %q", target, src, mounts[target])
		}
	}
	ds, err := os.ReadFile(filepath.Join(grafanaDir, "provisioning", "datasources", "footfall.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var uncommented []byte
	for _, line := range strings.Split(string(ds), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			uncommented = append(uncommented, line...)
		}
	}
	for _, m := range regexp.MustCompile(`\$\{([A-Z0-9_]+)\}`).FindAllSubmatch(uncommented, -1) {
		if v := g.Environment[string(m[1])]; v == nil || *v == "" {
			t.Errorf("grafana: the data sources read ${%s}, which compose does not set", m[1])
		}
	}
	for _, host := range []string{env(g, "FOOTFALL_GRAFANA_CLICKHOUSE_HOST"), hostOf(env(g, "FOOTFALL_GRAFANA_PROMETHEUS_URL"))} {
		if _, ok := p.Services[host]; !ok {
			t.Errorf("grafana: data source host %q is no compose service", host)
		}
	}
	if !strings.Contains(env(g, "GF_PLUGINS_PREINSTALL_SYNC"), "grafana-clickhouse-datasource") {
		t.Error("grafana: the ClickHouse data source plugin is not installed (GF_PLUGINS_PREINSTALL_SYNC)")
	}
}

func hostOf(url string) string {
	_, rest, _ := strings.Cut(url, "://")
	host, _, _ := strings.Cut(rest, "/")
	host, _, _ = strings.Cut(host, ":")
	return host
}

// Prometheus scrapes every Footfall service.
func TestComposePrometheusScrapesEveryService(t *testing.T) {
	p := loadCompose(t)
	prom := serviceByImage(t, p, "prom/prometheus")
	var conf struct {
		ScrapeConfigs []struct {
			StaticConfigs []struct{ Targets []string } `json:"static_configs"`
		} `json:"scrape_configs"`
	}
	for _, m := range prom.Volumes {
		if m.Target == "/etc/prometheus/prometheus.yml" {
			b, err := os.ReadFile(m.Source)
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(b, &conf); err != nil {
				t.Fatal(err)
			}
		}
	}
	var targets []string
	for _, sc := range conf.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	ff := footfallServices(t, p)
	for name, port := range deployedPorts(t) {
		if s, ok := ff[name]; ok && !slices.Contains(targets, s.Name+":"+strconv.Itoa(port)) {
			t.Errorf("prometheus does not scrape %s:%d (targets %v)", s.Name, port, targets)
		}
	}
}

// State lives in named volumes: the databases' data, Kafka's log and the
// collector's spool survive `docker compose down` and a new image.
func TestComposeVolumes(t *testing.T) {
	p := loadCompose(t)
	d := parseDockerfile(t)
	spool := Env(&d.Stages[len(d.Stages)-1])["FOOTFALL_COLLECTOR_SPOOL_DIR"]
	if spool == "" {
		t.Fatal("the image sets no FOOTFALL_COLLECTOR_SPOOL_DIR")
	}
	kafka := serviceByImage(t, p, "apache/kafka")
	want := map[string]string{
		kafka.Name: env(kafka, "KAFKA_LOG_DIRS"),
		serviceByImage(t, p, "clickhouse/clickhouse-server").Name: "/var/lib/clickhouse",
		serviceByImage(t, p, "clickhouse/clickhouse-keeper").Name: "/var/lib/clickhouse",
		serviceByImage(t, p, "postgres").Name:                     "/var/lib/postgresql/data",
		footfallServices(t, p)["collector"].Name:                  spool,
	}
	for svc, dir := range want {
		ok := false
		for _, v := range p.Services[svc].Volumes {
			ok = ok || (v.Type == types.VolumeTypeVolume && v.Target == dir)
		}
		if !ok {
			t.Errorf("%s: %q is on no named volume", svc, dir)
		}
	}
}

// Nothing listens beyond the host's loopback unless the user says so,
// and .env.example holds placeholders only.
func TestComposeExposureAndSecrets(t *testing.T) {
	p := loadCompose(t)
	for _, s := range p.Services {
		for _, port := range s.Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s on %q: bind it to 127.0.0.1 (a proxy in front decides what is public)", s.Name, port.Published, port.HostIP)
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(composeDir, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if v != "" && !strings.Contains(v, "replace-with") {
			t.Errorf(".env.example: %s=%q is not a placeholder", k, v)
		}
	}
	// Without a .env, compose refuses to start rather than run keyless.
	empty := filepath.Join(t.TempDir(), "empty.env")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCompose(context.Background(), filepath.Join(composeDir, "compose.yaml"), empty); err == nil || !strings.Contains(err.Error(), "in .env") {
		t.Errorf("compose.yaml loads without any key set (err %v): required variables need ${VAR:?message}", err)
	}
}

// The loader really validates: a misspelt key is refused.
func TestComposeLoaderRejectsUnknownKeys(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(f, []byte("services:\n  a:\n    image: busybox:1\n    helthcheck: {test: [CMD, true]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(dir, "empty.env")
	if err := os.WriteFile(envFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCompose(context.Background(), f, envFile); err == nil || !strings.Contains(err.Error(), "helthcheck") {
		t.Errorf("a misspelt key loaded: %v", err)
	}
}
