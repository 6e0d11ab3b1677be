package main

import (
	"os"
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

	// The committed tag is a placeholder: kustomize renders it, the API server
	// refuses the migration Job named after it, so nothing runs until it is set.
	tag := k.Images[0].NewTag
	if tag != kustomizePlaceholderTag {
		t.Errorf("kustomization.yaml's newTag is %q, want the placeholder %s (never latest: a deployment sets its release tag)", tag, kustomizePlaceholderTag)
	}
	if regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`).MatchString("callsync-migrate-" + tag) {
		t.Errorf("the placeholder tag %q makes a valid Job name: an unset tag would not fail", tag)
	}

	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Log("kubectl not on PATH: the kustomization is not rendered here (.ci/run renders it)")
		return
	}
	image := "image: " + k.Images[0].NewName + ":" + tag
	// The default renders the Deployment shape only.
	out := kustomize(t, kubectl, filepath.Join(deployDir, "kubernetes"))
	kinds := renderedKinds(out)
	if kinds["Deployment"] != 1 || kinds["Service"] != 1 || kinds["CronJob"] != 0 || kinds["Job"] != 1 {
		t.Errorf("deploy/kubernetes renders %v, want one Deployment, its Service, the migration Job and no CronJob", kinds)
	}
	if n := strings.Count(out, image); n != 3 {
		t.Errorf("rendered manifests have %q %d times, want 3 (Deployment, its init container, Job)", image, n)
	}
	if !strings.Contains(out, "name: callsync-migrate-"+tag+"\n") {
		t.Errorf("the migration Job is not named after the image tag %s", tag)
	}

	// The cronjob component swaps the Deployment for the CronJob, with the
	// image set in the same place.
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(deployDir, "kubernetes"))); err != nil {
		t.Fatal(err)
	}
	kfile := filepath.Join(dir, "kustomization.yaml")
	b, err := os.ReadFile(kfile)
	if err != nil {
		t.Fatal(err)
	}
	const off, on = "# components:\n#   - cronjob\n", "components:\n  - cronjob\n"
	if !strings.Contains(string(b), off) {
		t.Fatalf("kustomization.yaml lacks the commented %q that switches to the CronJob", off)
	}
	if err := os.WriteFile(kfile, []byte(strings.Replace(string(b), off, on, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out = kustomize(t, kubectl, dir)
	kinds = renderedKinds(out)
	if kinds["CronJob"] != 1 || kinds["Job"] != 1 || kinds["Deployment"] != 0 || kinds["Service"] != 0 || kinds["ServiceMonitor"] != 0 {
		t.Errorf("with the cronjob component: %v, want the CronJob and the migration Job, no Deployment, Service or ServiceMonitor", kinds)
	}
	if n := strings.Count(out, image); n != 2 {
		t.Errorf("with the cronjob component, %q appears %d times, want 2 (CronJob, Job)", image, n)
	}
	if !strings.Contains(out, "name: callsync-migrate-"+tag+"\n") {
		t.Errorf("with the cronjob component, the migration Job is not named after the image tag %s", tag)
	}
}

// kustomizePlaceholderTag is the image tag deploy/kubernetes ships with.
const kustomizePlaceholderTag = "SET-ME"

// kustomize renders the kustomization in dir.
func kustomize(t *testing.T, kubectl, dir string) string {
	t.Helper()
	out, err := exec.Command(kubectl, "kustomize", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, out)
	}
	if strings.Contains(string(out), ":latest") {
		t.Errorf("kubectl kustomize %s renders an image tagged latest", dir)
	}
	return string(out)
}

// renderedKinds counts the objects of rendered manifests by kind.
func renderedKinds(out string) map[string]int {
	kinds := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^kind: (\w+)$`).FindAllStringSubmatch(out, -1) {
		kinds[m[1]]++
	}
	return kinds
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
