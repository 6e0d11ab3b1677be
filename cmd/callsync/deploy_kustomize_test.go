package main

import (
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestDeploy_Kustomization checks deploy/kubernetes/kustomization.yaml: it
// lists every manifest but the Secret's example, it is the one place that
// names the image, and it names the migration Job after the image tag.
// With kubectl on PATH, it renders the kustomization too (.ci/run has it).
func TestDeploy_Kustomization(t *testing.T) {
	var k struct {
		Resources []string
		Images    []struct {
			Name    string
			NewName string `yaml:"newName"`
			NewTag  string `yaml:"newTag"`
		}
	}
	if err := yaml.Unmarshal(readDeploy(t, "kubernetes/kustomization.yaml"), &k); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(deployDir, "kubernetes", "*.yaml"))
	for _, f := range files {
		base := filepath.Base(f)
		if base == "kustomization.yaml" || base == "secret.example.yaml" {
			continue
		}
		if !slices.Contains(k.Resources, base) {
			t.Errorf("kustomization.yaml does not list %s", base)
		}
	}
	if len(k.Images) != 1 || k.Images[0].Name != "callsync" || k.Images[0].NewName == "" || k.Images[0].NewTag == "" {
		t.Errorf("kustomization.yaml images = %+v, want one entry for callsync", k.Images)
	}
	for kind, objs := range k8sManifests(t) {
		for _, o := range objs {
			pods := []k8sPod{o.Spec.Template, o.Spec.JobTemplate.Spec.Template}
			for _, p := range pods {
				for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
					if c.Image != "callsync" {
						t.Errorf("%s/%s: image %q, want callsync (kustomization.yaml sets it)", kind, o.Metadata.Name, c.Image)
					}
				}
			}
		}
	}

	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Log("kubectl not on PATH: the kustomization is not rendered here (.ci/run renders it)")
		return
	}
	out, err := exec.Command(kubectl, "kustomize", filepath.Join(deployDir, "kubernetes")).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	want := "image: " + k.Images[0].NewName + ":" + k.Images[0].NewTag
	if n := strings.Count(string(out), want); n != 4 {
		t.Errorf("rendered manifests have %q %d times, want 4 (Deployment, its init container, CronJob, Job)", want, n)
	}
	if !strings.Contains(string(out), "name: callsync-migrate-"+k.Images[0].NewTag+"\n") {
		t.Errorf("the migration Job is not named after the image tag %s", k.Images[0].NewTag)
	}
}

// TestDeploy_PrometheusRuleMatchesAlerts checks that the PrometheusRule
// carries alerts.yaml's groups, unchanged.
func TestDeploy_PrometheusRuleMatchesAlerts(t *testing.T) {
	var alerts struct{ Groups any }
	var rule struct {
		Kind string
		Spec struct{ Groups any }
	}
	if err := yaml.Unmarshal(readDeploy(t, "prometheus/alerts.yaml"), &alerts); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(readDeploy(t, "kubernetes/prometheusrule.yaml"), &rule); err != nil {
		t.Fatal(err)
	}
	if rule.Kind != "PrometheusRule" || !reflect.DeepEqual(alerts.Groups, rule.Spec.Groups) {
		t.Error("kubernetes/prometheusrule.yaml's groups differ from prometheus/alerts.yaml's: copy them over")
	}
}

// TestDeploy_DockerfileServesWhatItExposes checks that the image's default
// command serves HTTP on the port it exposes, that its user is numeric (so
// that runAsNonRoot holds without runAsUser), and that it is labelled with
// its version.
func TestDeploy_DockerfileServesWhatItExposes(t *testing.T) {
	d := readDockerfile(t)
	if !regexp.MustCompile(`^\d+:\d+$`).MatchString(d.user) || strings.HasPrefix(d.user, "0:") {
		t.Errorf("USER %q, want a numeric non-root uid:gid such as 65532:65532", d.user)
	}
	m := regexp.MustCompile(`(?m)^ENV HTTP_ADDR=(\S+)$`).FindStringSubmatch(d.text)
	if m == nil || portOf(t, m[1]) != d.expose {
		t.Errorf("the image's HTTP_ADDR %v does not serve the EXPOSEd port %q", m, d.expose)
	}
	for _, want := range []string{"org.opencontainers.image.version=\"${VERSION}\"", "org.opencontainers.image.revision=\"${REVISION}\"",
		"-X main.version=${VERSION}", "-X main.revision=${REVISION}"} {
		if !strings.Contains(d.text, want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
}
