package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// k8sContainer is the part of a Kubernetes container the tests read.
type k8sContainer struct {
	Name    string
	Image   string
	Command []string
	Args    []string
	Env     []struct {
		Name      string
		Value     string
		ValueFrom *struct {
			SecretKeyRef *struct{ Name, Key string } `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	}
	EnvFrom []struct {
		ConfigMapRef *struct{ Name string } `yaml:"configMapRef"`
		SecretRef    *struct{ Name string } `yaml:"secretRef"`
	} `yaml:"envFrom"`
	Ports []struct {
		Name          string
		ContainerPort int `yaml:"containerPort"`
	}
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	VolumeMounts   []struct {
		Name      string
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
	Resources struct {
		Requests map[string]string
		Limits   map[string]string
	}
	SecurityContext *struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
	} `yaml:"securityContext"`
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string
		Port string
	} `yaml:"httpGet"`
}

type k8sPod struct {
	Metadata struct {
		Labels      map[string]string
		Annotations map[string]string
	}
	Spec struct {
		SecurityContext *struct {
			RunAsNonRoot *bool `yaml:"runAsNonRoot"`
		} `yaml:"securityContext"`
		InitContainers []k8sContainer `yaml:"initContainers"`
		Containers     []k8sContainer
		Volumes        []struct {
			Name   string
			Secret *struct {
				SecretName string `yaml:"secretName"`
				Items      []struct{ Key, Path string }
			}
		}
	}
}

// k8sObject is the part of any Kubernetes object the tests read.
type k8sObject struct {
	Kind     string
	Metadata struct{ Name string }
	Data     map[string]string
	// StringData holds the Secret's keys.
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Template          k8sPod
		Schedule          string
		ConcurrencyPolicy string `yaml:"concurrencyPolicy"`
		JobTemplate       struct {
			Spec struct{ Template k8sPod }
		} `yaml:"jobTemplate"`
		// Selector is a Service's selector (a Deployment's is matchLabels).
		Selector map[string]any
		Ports    []struct {
			Name       string
			Port       int
			TargetPort string `yaml:"targetPort"`
		}
	}
}

// k8sManifests reads every object of deploy/kubernetes, by kind.
func k8sManifests(t *testing.T) map[string][]k8sObject {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(deployDir, "kubernetes", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/kubernetes: %v", err)
	}
	files = append(files, filepath.Join(deployDir, "kubernetes", "cronjob", "cronjob.yaml")) // the component's
	byKind := map[string][]k8sObject{}
	for _, f := range files {
		rel, err := filepath.Rel(deployDir, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range yamlDocs[k8sObject](t, rel) {
			byKind[o.Kind] = append(byKind[o.Kind], o)
		}
	}
	for _, kind := range []string{"Deployment", "Service", "CronJob", "Job", "Secret", "ConfigMap"} {
		if len(byKind[kind]) != 1 {
			t.Fatalf("deploy/kubernetes has %d %s objects, want 1", len(byKind[kind]), kind)
		}
	}
	return byKind
}

func TestDeploy_Kubernetes(t *testing.T) {
	objs := k8sManifests(t)
	secret, config := objs["Secret"][0], objs["ConfigMap"][0]
	dep, cron, job := objs["Deployment"][0], objs["CronJob"][0], objs["Job"][0]

	pods := map[string]k8sPod{"Deployment": dep.Spec.Template, "CronJob": cron.Spec.JobTemplate.Spec.Template, "Job": job.Spec.Template}
	commandOf := map[string]string{}
	image := dep.Spec.Template.Spec.Containers[0].Image
	for kind, pod := range pods {
		if sc := pod.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("%s: pod securityContext.runAsNonRoot is not true", kind)
		}
		mounted := map[string]string{} // volume → mount path
		for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
			where := kind + "/" + c.Name
			if c.Image != image {
				t.Errorf("%s: image %q, want %q as everywhere", where, c.Image, image)
			}
			if len(c.Command) > 0 {
				t.Errorf("%s: command %q overrides the image's callsync entrypoint", where, c.Command)
			}
			command, _ := checkArgs(t, where, c.Args)
			commandOf[where] = command
			known := cliEnv(t, command)
			for _, e := range c.Env {
				f, ok := known[e.Name]
				if !ok {
					t.Errorf("%s: callsync %s does not read %s", where, command, e.Name)
					continue
				}
				if e.ValueFrom == nil {
					checkValue(t, where+": "+e.Name, f, e.Value)
				} else if ref := e.ValueFrom.SecretKeyRef; ref == nil || ref.Name != secret.Metadata.Name || secret.StringData[ref.Key] == "" {
					t.Errorf("%s: %s comes from a key the example Secret lacks: %+v", where, e.Name, ref)
				}
			}
			for _, from := range c.EnvFrom {
				if from.ConfigMapRef == nil || from.ConfigMapRef.Name != config.Metadata.Name {
					t.Errorf("%s: envFrom %+v, want the ConfigMap %s only (secrets go by key)", where, from, config.Metadata.Name)
					continue
				}
				for key, v := range config.Data {
					f, ok := known[key]
					if !ok {
						t.Errorf("%s: the ConfigMap sets %s, which callsync %s does not read", where, key, command)
						continue
					}
					checkValue(t, where+": ConfigMap "+key, f, v)
				}
			}
			if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
				t.Errorf("%s: resources %+v, want cpu and memory requests and a memory limit", where, c.Resources)
			}
			if sc := c.SecurityContext; sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("%s: allowPrivilegeEscalation is not false", where)
			}
			for _, m := range c.VolumeMounts {
				mounted[m.Name] = m.MountPath
			}
			checkSecretFiles(t, where, c, pod, mounted, secret)
		}
	}
	for where, want := range map[string]string{"Deployment/migrate": "migrate", "Deployment/callsync": "run",
		"CronJob/callsync": "once", "Job/migrate": "migrate"} {
		if commandOf[where] != want {
			t.Errorf("%s runs callsync %q, want %s", where, commandOf[where], want)
		}
	}
	if cron.Spec.ConcurrencyPolicy != "Forbid" {
		t.Errorf("CronJob concurrencyPolicy %q, want Forbid", cron.Spec.ConcurrencyPolicy)
	}
	checkDeploymentHTTP(t, dep, objs["Service"][0])
}

// checkSecretFiles checks that every *_FILE variable names a file that a
// mounted Secret volume provides.
func checkSecretFiles(t *testing.T, where string, c k8sContainer, pod k8sPod, mounted map[string]string, secret k8sObject) {
	t.Helper()
	for _, e := range c.Env {
		if !strings.HasSuffix(e.Name, "_FILE") {
			continue
		}
		found := false
		for _, v := range pod.Spec.Volumes {
			dir, ok := mounted[v.Name]
			if !ok || v.Secret == nil || v.Secret.SecretName != secret.Metadata.Name {
				continue
			}
			for _, item := range v.Secret.Items {
				if filepath.Join(dir, item.Path) == e.Value && secret.StringData[item.Key] != "" {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("%s: %s=%s is not a file of a mounted Secret volume", where, e.Name, e.Value)
		}
	}
}

// checkDeploymentHTTP checks the run container's port against its
// --http-addr, the probes and the scrape annotations against the
// endpoints, the Service against the pods, and the webhook's secret.
func checkDeploymentHTTP(t *testing.T, dep, svc k8sObject) {
	t.Helper()
	pod := dep.Spec.Template
	c := pod.Spec.Containers[0]
	_, values := checkArgs(t, "Deployment", c.Args)
	addr := values["http-addr"]
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if addr == "" {
		addr = env["HTTP_ADDR"]
	}
	if addr == "" {
		t.Fatal("the Deployment's callsync run serves no HTTP: set --http-addr")
	}
	port := portOf(t, addr)
	if len(c.Ports) != 1 || strconv.Itoa(c.Ports[0].ContainerPort) != port {
		t.Fatalf("Deployment container ports %+v, want %s (--http-addr %s)", c.Ports, port, addr)
	}
	portName := c.Ports[0].Name
	for name, p := range map[string]struct {
		probe *k8sProbe
		path  string
	}{"liveness": {c.LivenessProbe, healthzPath}, "readiness": {c.ReadinessProbe, readyzPath}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s probe: none, want GET %s on port %s", name, p.path, portName)
		} else if g := p.probe.HTTPGet; g.Path != p.path || (g.Port != portName && g.Port != port) {
			t.Errorf("%s probe GET %s on port %s, want GET %s on port %s", name, g.Path, g.Port, p.path, portName)
		}
	}
	if a := pod.Metadata.Annotations; a["prometheus.io/port"] != port || a["prometheus.io/path"] != metricsPath {
		t.Errorf("scrape annotations %v, want port %s and path %s", a, port, metricsPath)
	}
	if values["webhook-path"] == "" && env["SYNTHFLOW_WEBHOOK_SECRET_FILE"] == "" && env["SYNTHFLOW_WEBHOOK_SECRET"] == "" {
		t.Error("the Deployment serves the webhook without a secret: run would refuse to start")
	}
	for k, v := range svc.Spec.Selector {
		if pod.Metadata.Labels[k] != v {
			t.Errorf("Service selects %s=%v, which the Deployment's pods lack", k, v)
		}
	}
	if len(svc.Spec.Ports) != 1 || (svc.Spec.Ports[0].TargetPort != portName && svc.Spec.Ports[0].TargetPort != port) {
		t.Errorf("Service ports %+v, want targetPort %s", svc.Spec.Ports, portName)
	}
}
