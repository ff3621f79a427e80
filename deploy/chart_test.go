package deploy_test

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/marketing-platform/distribution/deploy"
	"github.com/marketing-platform/distribution/internal/config"
)

// objects are a render decoded into the Kubernetes API types, by name.
type objects struct {
	deployments map[string]*appsv1.Deployment
	jobs        map[string]*batchv1.Job
	services    map[string]*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	accounts    map[string]*corev1.ServiceAccount
	hpas        map[string]*autoscalingv2.HorizontalPodAutoscaler
	pdbs        map[string]*policyv1.PodDisruptionBudget
}

func render(t *testing.T, values map[string]any) ([]deploy.Manifest, error) {
	t.Helper()
	return deploy.Render("chart", deploy.Release{Name: "distribution", Namespace: "prod"}, values)
}

// decodeStrict decodes every manifest into its Kubernetes type, refusing unknown fields and
// duplicate keys (sigs.k8s.io/yaml's UnmarshalStrict), and any kind the test does not know.
func decodeStrict(t *testing.T, ms []deploy.Manifest) objects {
	t.Helper()
	o := objects{
		deployments: map[string]*appsv1.Deployment{}, jobs: map[string]*batchv1.Job{},
		services: map[string]*corev1.Service{}, configMaps: map[string]*corev1.ConfigMap{},
		secrets: map[string]*corev1.Secret{}, accounts: map[string]*corev1.ServiceAccount{},
		hpas: map[string]*autoscalingv2.HorizontalPodAutoscaler{}, pdbs: map[string]*policyv1.PodDisruptionBudget{},
	}
	for _, m := range ms {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(m.YAML), &tm); err != nil {
			t.Fatalf("%s: %v\n%s", m.Template, err, m.YAML)
		}
		var obj any
		var meta *metav1.ObjectMeta
		switch tm.APIVersion + " " + tm.Kind {
		case "apps/v1 Deployment":
			x := &appsv1.Deployment{}
			obj, meta = x, &x.ObjectMeta
			defer func() { o.deployments[x.Name] = x }()
		case "batch/v1 Job":
			x := &batchv1.Job{}
			obj, meta = x, &x.ObjectMeta
			defer func() { o.jobs[x.Name] = x }()
		case "v1 Service":
			x := &corev1.Service{}
			obj, meta = x, &x.ObjectMeta
			defer func() { o.services[x.Name] = x }()
		case "v1 ConfigMap":
			x := &corev1.ConfigMap{}
			obj, meta = x, &x.ObjectMeta
			defer func() { o.configMaps[x.Name] = x }()
		case "v1 Secret":
			x := &corev1.Secret{}
			obj, meta = x, &x.ObjectMeta
			defer func() { o.secrets[x.Name] = x }()
		case "v1 ServiceAccount":
			x := &corev1.ServiceAccount{}
			obj, meta = x, &x.ObjectMeta
			defer func() { o.accounts[x.Name] = x }()
		case "autoscaling/v2 HorizontalPodAutoscaler":
			x := &autoscalingv2.HorizontalPodAutoscaler{}
			obj, meta = x, &x.ObjectMeta
			defer func() { o.hpas[x.Name] = x }()
		case "policy/v1 PodDisruptionBudget":
			x := &policyv1.PodDisruptionBudget{}
			obj, meta = x, &x.ObjectMeta
			defer func() { o.pdbs[x.Name] = x }()
		default:
			t.Fatalf("%s: unexpected object %s %s", m.Template, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(m.YAML), obj); err != nil {
			t.Fatalf("%s: strict decode into %T: %v\n%s", m.Template, obj, err, m.YAML)
		}
		if meta.Name == "" {
			t.Errorf("%s: %s without a name", m.Template, tm.Kind)
		}
		if meta.Labels["app.kubernetes.io/instance"] != "distribution" {
			t.Errorf("%s %s: no app.kubernetes.io/instance label", tm.Kind, meta.Name)
		}
	}
	return o
}

// valueSet is one set of values and what the render must show for it.
type valueSet struct {
	name   string
	values map[string]any
	// secret is the Secret the Deployments read; secretData stands in for its content when the
	// chart does not render it (existingSecret).
	secret     string
	secretData map[string]string
	migrateSec string // the Secret the migrate Job reads
	hpaMin     int32
	hpaMax     int32
	workers    int32
	graceMin   int64 // SHUTDOWN_DELAY + 30 s (the process's own stop budget) + 10 s
	directReq  bool  // DATABASE_DIRECT_URL required
	config     map[string]string
}

func valueSets(t *testing.T) []valueSet {
	t.Helper()
	prod, err := deploy.LoadValues("examples/values-production.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return []valueSet{
		{
			name: "defaults", values: map[string]any{},
			secret: "distribution", migrateSec: "distribution-migrate",
			hpaMin: 2, hpaMax: 10, workers: 2, graceMin: 45,
			config: map[string]string{"REDIS_NOTIFICATIONS": "config", "LOG_LEVEL": "info"},
		},
		{
			name: "production", values: prod,
			secret: "distribution-env", migrateSec: "distribution-env",
			secretData: map[string]string{
				"DATABASE_URL":        "postgres://app:pw@pgbouncer:6432/distribution?sslmode=require",
				"DATABASE_DIRECT_URL": "postgres://app:pw@server:5432/distribution?sslmode=require",
				"REDIS_URL":           "rediss://:pw@cache:6380/0",
			},
			hpaMin: 3, hpaMax: 12, workers: 4, graceMin: 50, directReq: true,
			config: map[string]string{
				"REDIS_NOTIFICATIONS":         "managed",
				"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.observability:4318",
				"SECURE_COOKIES":              "true",
				"PUBLIC_URL":                  "https://distribution.example.com",
			},
		},
	}
}

// TestChartRenders renders the chart for the default values and a production-like set, decodes
// every object strictly into the Kubernetes API types and checks what operations rely on.
func TestChartRenders(t *testing.T) {
	for _, vs := range valueSets(t) {
		t.Run(vs.name, func(t *testing.T) {
			ms, err := render(t, vs.values)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			o := decodeStrict(t, ms)
			checkObjects(t, vs, o)
		})
	}
}

func checkObjects(t *testing.T, vs valueSet, o objects) {
	if got := slices.Sorted(maps.Keys(o.deployments)); !slices.Equal(got, []string{"distribution-web", "distribution-worker"}) {
		t.Fatalf("deployments %v, want distribution-web and distribution-worker", got)
	}
	cm := o.configMaps["distribution"]
	if cm == nil {
		t.Fatal("no ConfigMap distribution")
	}
	for k, want := range vs.config {
		if cm.Data[k] != want {
			t.Errorf("ConfigMap %s = %q, want %q", k, cm.Data[k], want)
		}
	}
	secretData := vs.secretData
	if vs.secretData == nil {
		s := o.secrets[vs.secret]
		if s == nil {
			t.Fatalf("no Secret %s rendered", vs.secret)
		}
		secretData = s.StringData
		if secretData["DATABASE_URL"] == "" || secretData["REDIS_URL"] == "" {
			t.Errorf("Secret %s lacks DATABASE_URL or REDIS_URL: %v", vs.secret, slices.Collect(maps.Keys(secretData)))
		}
	} else if len(o.secrets) != 0 {
		t.Errorf("existingSecret set, yet the chart renders Secrets %v", slices.Collect(maps.Keys(o.secrets)))
	}

	web, worker := o.deployments["distribution-web"], o.deployments["distribution-worker"]
	for role, d := range map[string]*appsv1.Deployment{"web": web, "worker": worker} {
		checkPod(t, vs, role, d, cm, secretData)
	}
	if web.Spec.Replicas != nil {
		t.Errorf("web replicas = %d although the HPA owns the count", *web.Spec.Replicas)
	}
	if worker.Spec.Replicas == nil || *worker.Spec.Replicas != vs.workers {
		t.Errorf("worker replicas = %v, want %d", worker.Spec.Replicas, vs.workers)
	}
	for _, d := range []*appsv1.Deployment{web, worker} {
		if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
			t.Errorf("%s: rolling update may take pods away before new ones are ready: %+v", d.Name, d.Spec.Strategy)
		}
	}
	webPods := k8slabels.Set(web.Spec.Template.Labels)
	workerPods := k8slabels.Set(worker.Spec.Template.Labels)

	// The Service sends traffic to the web pods' http port, never to workers.
	svc := o.services["distribution"]
	if svc == nil || len(o.services) != 1 {
		t.Fatalf("services %v, want one, distribution", slices.Collect(maps.Keys(o.services)))
	}
	sel := k8slabels.SelectorFromSet(svc.Spec.Selector)
	if !sel.Matches(webPods) || sel.Matches(workerPods) {
		t.Errorf("Service selector %v: matches web %v, worker %v; want web only", svc.Spec.Selector, sel.Matches(webPods), sel.Matches(workerPods))
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("Service ports %+v, want one to the named port http", svc.Spec.Ports)
	}

	// The HPA scales the web Deployment within the configured bounds.
	hpa := o.hpas["distribution-web"]
	if hpa == nil || len(o.hpas) != 1 {
		t.Fatalf("HPAs %v, want distribution-web", slices.Collect(maps.Keys(o.hpas)))
	}
	if ref := hpa.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || ref.Name != web.Name {
		t.Errorf("HPA targets %+v, want the web Deployment", ref)
	}
	if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas != vs.hpaMin || hpa.Spec.MaxReplicas != vs.hpaMax {
		t.Errorf("HPA bounds %v..%d, want %d..%d", hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas, vs.hpaMin, vs.hpaMax)
	}
	if len(hpa.Spec.Metrics) == 0 || hpa.Spec.Metrics[0].Resource == nil || hpa.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU {
		t.Errorf("HPA metrics %+v, want CPU utilisation", hpa.Spec.Metrics)
	}

	// Each PDB selects exactly its own component's pods.
	for name, pods := range map[string]k8slabels.Set{"distribution-web": webPods, "distribution-worker": workerPods} {
		pdb := o.pdbs[name]
		if pdb == nil {
			t.Errorf("no PodDisruptionBudget %s", name)
			continue
		}
		s, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		other := workerPods
		if name == "distribution-worker" {
			other = webPods
		}
		if !s.Matches(pods) || s.Matches(other) {
			t.Errorf("PDB %s selector %v does not select its pods only", name, pdb.Spec.Selector)
		}
		if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
			t.Errorf("PDB %s maxUnavailable %v, want 1", name, pdb.Spec.MaxUnavailable)
		}
	}

	checkMigrateJob(t, vs, o)
}

// checkPod checks one Deployment's pod: the service's own configuration loader accepts the
// environment the pod gets, the probes are on the ops port, and the pod is locked down.
func checkPod(t *testing.T, vs valueSet, role string, d *appsv1.Deployment, cm *corev1.ConfigMap, secretData map[string]string) {
	t.Helper()
	pod := d.Spec.Template.Spec
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(k8slabels.Set(d.Spec.Template.Labels)) {
		t.Errorf("%s: selector %v does not match its pods' labels %v", d.Name, d.Spec.Selector, d.Spec.Template.Labels)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%s: %d containers", d.Name, len(pod.Containers))
	}
	c := pod.Containers[0]
	if !slices.Equal(c.Args, []string{"serve"}) {
		t.Errorf("%s: args %v, want [serve]", d.Name, c.Args)
	}

	// The environment as the kubelet builds it: envFrom, then env (which wins); secret refs
	// resolved against the Secret's data.
	env := map[string]string{}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != cm.Name {
		t.Errorf("%s: envFrom %+v, want the ConfigMap %s", d.Name, c.EnvFrom, cm.Name)
	}
	maps.Copy(env, cm.Data)
	secretRefs := map[string]*corev1.SecretKeySelector{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			secretRefs[e.Name] = ref
			if ref.Name != vs.secret {
				t.Errorf("%s: %s from Secret %s, want %s", d.Name, e.Name, ref.Name, vs.secret)
			}
			if v, ok := secretData[ref.Key]; ok {
				env[e.Name] = v
			} else if ref.Optional == nil || !*ref.Optional {
				t.Errorf("%s: %s needs key %s, which the Secret lacks", d.Name, e.Name, ref.Key)
			}
		default:
			t.Errorf("%s: %s from %+v", d.Name, e.Name, e.ValueFrom)
		}
	}
	for key, required := range map[string]bool{"DATABASE_URL": true, "REDIS_URL": true, "DATABASE_DIRECT_URL": vs.directReq} {
		ref := secretRefs[key]
		if ref == nil {
			t.Errorf("%s: %s not taken from the Secret", d.Name, key)
			continue
		}
		if opt := ref.Optional != nil && *ref.Optional; opt == required {
			t.Errorf("%s: %s optional=%v, want required=%v", d.Name, key, opt, required)
		}
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("%s: the service refuses the pod's environment: %v", d.Name, err)
	}
	if cfg.Role != role {
		t.Errorf("%s: ROLE %q, want %q", d.Name, cfg.Role, role)
	}
	if cfg.MigrateOnStart {
		t.Errorf("%s: MIGRATE_ON_START is not false (the migrate Job migrates)", d.Name)
	}
	if vs.directReq && cfg.DatabaseDirectURL == "" {
		t.Errorf("%s: no DATABASE_DIRECT_URL", d.Name)
	}
	for k, want := range vs.config {
		if env[k] != want {
			t.Errorf("%s: %s = %q, want %q", d.Name, k, env[k], want)
		}
	}

	// Ports: the ops listener's port is the container port named ops; web also serves http.
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	_, opsPort, err := net.SplitHostPort(cfg.OpsAddr)
	if err != nil || opsPort != strconv.Itoa(int(ports["ops"])) {
		t.Errorf("%s: OPS_ADDR %q, container port ops %d", d.Name, cfg.OpsAddr, ports["ops"])
	}
	if _, httpPort, _ := net.SplitHostPort(cfg.Addr); role == "web" && httpPort != strconv.Itoa(int(ports["http"])) {
		t.Errorf("%s: ADDR %q, container port http %d", d.Name, cfg.Addr, ports["http"])
	}
	if _, ok := ports["http"]; role == "worker" && ok {
		t.Errorf("%s: a worker exposes http", d.Name)
	}

	// Probes on the ops port: liveness /healthz, readiness /readyz, startup /healthz.
	for what, pr := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
		if pr == nil || pr.HTTPGet == nil {
			t.Errorf("%s: no HTTP %s probe", d.Name, what)
			continue
		}
		want := "/healthz"
		if what == "readiness" {
			want = "/readyz"
		}
		if pr.HTTPGet.Path != want || pr.HTTPGet.Port.String() != "ops" {
			t.Errorf("%s: %s probe %s on port %s, want %s on ops", d.Name, what, pr.HTTPGet.Path, pr.HTTPGet.Port.String(), want)
		}
		if pr.TimeoutSeconds < 3 {
			t.Errorf("%s: %s probe timeout %ds, below /readyz's 2 s check bound + margin", d.Name, what, pr.TimeoutSeconds)
		}
	}

	// Drain: the grace period covers SHUTDOWN_DELAY + 30 s (the process's stop budget, cli/serve.go).
	grace := pod.TerminationGracePeriodSeconds
	if grace == nil || *grace < 45 || *grace < vs.graceMin || time.Duration(*grace)*time.Second < cfg.ShutdownDelay+40*time.Second {
		t.Errorf("%s: terminationGracePeriodSeconds %v with SHUTDOWN_DELAY %s, want >= %d and >= delay + 40 s", d.Name, grace, cfg.ShutdownDelay, vs.graceMin)
	}

	checkLockedDown(t, d.Name, pod, c)
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() || c.Resources.Limits.Cpu().IsZero() {
		t.Errorf("%s: resources %+v, want cpu and memory requests and limits", d.Name, c.Resources)
	}
	if a := d.Spec.Template.Annotations; a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != strconv.Itoa(int(ports["ops"])) {
		t.Errorf("%s: scrape annotations %v, want the ops port", d.Name, a)
	}
	if a := d.Spec.Template.Annotations["checksum/config"]; len(a) != 64 {
		t.Errorf("%s: no checksum/config annotation (a config change would not roll the pods)", d.Name)
	}
}

// checkLockedDown: non-root, no privilege escalation, no capabilities, the default seccomp
// profile, a read-only root filesystem and /tmp as the one writable place, no API token.
func checkLockedDown(t *testing.T, name string, pod corev1.PodSpec, c corev1.Container) {
	t.Helper()
	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil || sc == nil {
		t.Fatalf("%s: no security context", name)
	}
	if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("%s: pod may run as root: %+v", name, psc)
	}
	if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: seccomp %+v, want RuntimeDefault", name, psc.SeccompProfile)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("%s: root filesystem writable", name)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: privilege escalation allowed", name)
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
		t.Errorf("%s: capabilities %+v, want drop ALL", name, sc.Capabilities)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("%s: mounts a service account token", name)
	}
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	var tmp bool
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/tmp" && vols[m.Name].EmptyDir != nil {
			tmp = true
		}
	}
	if !tmp {
		t.Errorf("%s: no emptyDir on /tmp", name)
	}
}

// checkMigrateJob: `distribution migrate` as a pre-install/pre-upgrade hook with the database
// URLs from a Secret that exists when the hook runs, locked down like the pods.
func checkMigrateJob(t *testing.T, vs valueSet, o objects) {
	t.Helper()
	job := o.jobs["distribution-migrate"]
	if job == nil || len(o.jobs) != 1 {
		t.Fatalf("jobs %v, want distribution-migrate", slices.Collect(maps.Keys(o.jobs)))
	}
	if h := job.Annotations["helm.sh/hook"]; h != "pre-install,pre-upgrade" {
		t.Errorf("migrate Job hook %q, want pre-install,pre-upgrade", h)
	}
	if !strings.Contains(job.Annotations["helm.sh/hook-delete-policy"], "before-hook-creation") {
		t.Errorf("migrate Job delete policy %q: a second upgrade would fail on the old Job", job.Annotations["helm.sh/hook-delete-policy"])
	}
	pod := job.Spec.Template.Spec
	c := pod.Containers[0]
	if !slices.Equal(c.Args, []string{"migrate"}) || pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("migrate Job runs %v (restart %s), want [migrate], Never", c.Args, pod.RestartPolicy)
	}
	if job.Spec.BackoffLimit == nil || job.Spec.ActiveDeadlineSeconds == nil {
		t.Error("migrate Job without backoffLimit or activeDeadlineSeconds")
	}
	checkLockedDown(t, job.Name, pod, c)
	refs := map[string]*corev1.SecretKeySelector{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			refs[e.Name] = e.ValueFrom.SecretKeyRef
		}
	}
	for _, k := range []string{"DATABASE_URL", "DATABASE_DIRECT_URL"} {
		if refs[k] == nil || refs[k].Name != vs.migrateSec {
			t.Errorf("migrate Job: %s from %+v, want Secret %s", k, refs[k], vs.migrateSec)
		}
	}
	if opt := refs["DATABASE_DIRECT_URL"] != nil && refs["DATABASE_DIRECT_URL"].Optional != nil && *refs["DATABASE_DIRECT_URL"].Optional; opt == vs.directReq {
		t.Errorf("migrate Job: DATABASE_DIRECT_URL optional=%v with direct URL required=%v", opt, vs.directReq)
	}
	if pod.ServiceAccountName != "" {
		t.Errorf("migrate Job uses ServiceAccount %q, which a pre-install hook runs before", pod.ServiceAccountName)
	}
	if vs.secretData != nil {
		return
	}
	// The chart's own Secret does not exist yet when a pre-install hook runs: the Job's Secret
	// is a hook too, created before it (lower weight).
	s := o.secrets[vs.migrateSec]
	if s == nil {
		t.Fatalf("no hook Secret %s", vs.migrateSec)
	}
	if s.Annotations["helm.sh/hook"] != job.Annotations["helm.sh/hook"] {
		t.Errorf("Secret %s hook %q, Job hook %q", s.Name, s.Annotations["helm.sh/hook"], job.Annotations["helm.sh/hook"])
	}
	sw, _ := strconv.Atoi(s.Annotations["helm.sh/hook-weight"])
	jw, _ := strconv.Atoi(job.Annotations["helm.sh/hook-weight"])
	if sw >= jw {
		t.Errorf("hook Secret weight %d not below the Job's %d", sw, jw)
	}
	if s.StringData["DATABASE_URL"] == "" {
		t.Error("hook Secret without DATABASE_URL")
	}
}

// TestChartRefusesBadValues: values that would break the drain, shadow what the chart sets, put
// a credential in the ConfigMap or leave the pooler without a direct URL fail the render with
// a message naming the value.
func TestChartRefusesBadValues(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"grace below the stop budget", map[string]any{"terminationGracePeriodSeconds": 30}, "terminationGracePeriodSeconds=30 is too short"},
		{"grace below a longer delay", map[string]any{"shutdownDelaySeconds": 30, "terminationGracePeriodSeconds": 60}, "must be at least 70"},
		{"ROLE in config", map[string]any{"config": map[string]any{"ROLE": "all"}}, "config.ROLE is set by the chart"},
		{"MIGRATE_ON_START in config", map[string]any{"config": map[string]any{"MIGRATE_ON_START": "true"}}, "config.MIGRATE_ON_START is set by the chart"},
		{"credential in config", map[string]any{"config": map[string]any{"DATABASE_URL": "postgres://x"}}, "config.DATABASE_URL is a credential"},
		{"no database", map[string]any{"secrets": map[string]any{"DATABASE_URL": ""}}, "secrets.DATABASE_URL (or secrets.existingSecret) is required"},
		{"pooler without direct URL", map[string]any{"database": map[string]any{"throughPooler": true}}, "database.throughPooler needs secrets.DATABASE_DIRECT_URL"},
		{"HPA bounds reversed", map[string]any{"web": map[string]any{"autoscaling": map[string]any{"minReplicas": 5, "maxReplicas": 2}}}, "minReplicas must not exceed maxReplicas"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("render = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestChartVariants: autoscaling off gives the web Deployment its replicas and no HPA; a config
// change changes the pods' checksum (so they roll); disabled PDBs are not rendered.
func TestChartVariants(t *testing.T) {
	off := map[string]any{"web": map[string]any{"replicas": 3, "autoscaling": map[string]any{"enabled": false}, "pdb": map[string]any{"enabled": false}}}
	ms, err := render(t, off)
	if err != nil {
		t.Fatal(err)
	}
	o := decodeStrict(t, ms)
	if len(o.hpas) != 0 {
		t.Errorf("autoscaling off, yet HPAs %v", slices.Collect(maps.Keys(o.hpas)))
	}
	if r := o.deployments["distribution-web"].Spec.Replicas; r == nil || *r != 3 {
		t.Errorf("web replicas %v, want 3", r)
	}
	if _, ok := o.pdbs["distribution-web"]; ok || o.pdbs["distribution-worker"] == nil {
		t.Errorf("PDBs %v, want the worker's only", slices.Collect(maps.Keys(o.pdbs)))
	}

	sums := map[string]string{}
	for _, level := range []string{"info", "debug"} {
		ms, err := render(t, map[string]any{"config": map[string]any{"LOG_LEVEL": level}})
		if err != nil {
			t.Fatal(err)
		}
		sums[level] = decodeStrict(t, ms).deployments["distribution-worker"].Spec.Template.Annotations["checksum/config"]
	}
	if sums["info"] == sums["debug"] {
		t.Error("checksum/config did not change with the ConfigMap")
	}
}

// TestChartDefaultObjects: the default render is exactly these objects (one per template, the
// migrate hook Secret beside the Job, a PDB per component).
func TestChartDefaultObjects(t *testing.T) {
	ms, err := render(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, m := range ms {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(m.YAML), &tm); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, fmt.Sprintf("%s/%s", tm.Kind, m.Template))
	}
	slices.Sort(kinds)
	want := []string{
		"ConfigMap/distribution/templates/configmap.yaml",
		"Deployment/distribution/templates/deployment-web.yaml",
		"Deployment/distribution/templates/deployment-worker.yaml",
		"HorizontalPodAutoscaler/distribution/templates/hpa.yaml",
		"Job/distribution/templates/migrate-job.yaml",
		"PodDisruptionBudget/distribution/templates/pdb.yaml",
		"PodDisruptionBudget/distribution/templates/pdb.yaml",
		"Secret/distribution/templates/migrate-job.yaml",
		"Secret/distribution/templates/secret.yaml",
		"Service/distribution/templates/service.yaml",
		"ServiceAccount/distribution/templates/serviceaccount.yaml",
	}
	if !slices.Equal(kinds, want) {
		t.Errorf("default render:\n%s\nwant:\n%s", strings.Join(kinds, "\n"), strings.Join(want, "\n"))
	}
}
