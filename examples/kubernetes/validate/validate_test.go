// Package validate checks the Kubernetes manifests in examples/kubernetes:
// each document decodes strictly (no unknown or misspelt field) into the
// Kubernetes API type its kind names, and each Job is one llmbatch job as
// the README describes it: Indexed, --shards equal to its completions,
// the index left to JOB_COMPLETION_INDEX, restartPolicy Never and a
// podFailurePolicy that maps llmbatch's exit codes (3 fails the job, 2
// the index), its key from a Secret (or a local server's dummy), its
// journal on object storage (credentials from a Secret) or on a volume
// that outlives the pod, and only flags that "llmbatch run" has.
//
// It is a module of its own so that the library does not depend on
// Kubernetes; .ci/run runs it.
package validate

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// decode decodes one YAML document strictly into the type its kind names.
func decode(doc []byte) (any, error) {
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		return nil, err
	}
	var obj any
	switch meta.APIVersion + " " + meta.Kind {
	case "batch/v1 Job":
		obj = &batchv1.Job{}
	case "v1 Secret":
		obj = &corev1.Secret{}
	case "v1 PersistentVolumeClaim":
		obj = &corev1.PersistentVolumeClaim{}
	case "v1 ConfigMap":
		obj = &corev1.ConfigMap{}
	default:
		return nil, fmt.Errorf("unexpected kind %q %q", meta.APIVersion, meta.Kind)
	}
	return obj, yaml.UnmarshalStrict(doc, obj)
}

func TestManifests(t *testing.T) {
	files, err := filepath.Glob("../*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("manifests: %v, %v", files, err)
	}
	runFlags := llmbatchFlags(t)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var jobs []*batchv1.Job
			claims := map[string]bool{}
			for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
				if strings.TrimSpace(stripComments(doc)) == "" {
					continue
				}
				obj, err := decode([]byte(doc))
				if err != nil {
					t.Fatalf("document %d: %v", i+1, err)
				}
				switch o := obj.(type) {
				case *batchv1.Job:
					jobs = append(jobs, o)
				case *corev1.PersistentVolumeClaim:
					claims[o.Name] = true
				}
			}
			if len(jobs) != 1 {
				t.Fatalf("%d Jobs, want 1", len(jobs))
			}
			checkJob(t, jobs[0], claims, runFlags)
		})
	}
}

// TestStrictDecodingCatchesTypos makes sure the check above would see a
// misspelt field.
func TestStrictDecodingCatchesTypos(t *testing.T) {
	doc := "apiVersion: batch/v1\nkind: Job\nspec:\n  completionsMode: Indexed\n"
	if _, err := decode([]byte(doc)); err == nil {
		t.Error("a Job with completionsMode decoded without error")
	}
}

func checkJob(t *testing.T, job *batchv1.Job, claims map[string]bool, runFlags map[string]bool) {
	s := job.Spec
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
		t.Errorf("completionMode is not Indexed")
	}
	if s.Completions == nil || s.Parallelism == nil || *s.Parallelism > *s.Completions {
		t.Fatalf("completions %v, parallelism %v", s.Completions, s.Parallelism)
	}
	if s.BackoffLimitPerIndex == nil {
		t.Errorf("no backoffLimitPerIndex: a failed index would count against the whole job")
	}
	if s.PodReplacementPolicy == nil || *s.PodReplacementPolicy != batchv1.Failed {
		t.Errorf("podReplacementPolicy is not Failed: a replacement pod could write a shard's journal beside the one terminating")
	}
	pod := s.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %q: a podFailurePolicy needs Never", pod.RestartPolicy)
	}
	var c *corev1.Container
	for i := range pod.Containers {
		if pod.Containers[i].Name == "llmbatch" {
			c = &pod.Containers[i]
		}
	}
	if c == nil {
		t.Fatal("no container named llmbatch")
	}

	// The exit codes: 3 fails the job, 2 the index.
	want := map[batchv1.PodFailurePolicyAction]int32{batchv1.PodFailurePolicyActionFailJob: 3, batchv1.PodFailurePolicyActionFailIndex: 2}
	if s.PodFailurePolicy == nil {
		t.Fatal("no podFailurePolicy")
	}
	for _, r := range s.PodFailurePolicy.Rules {
		if r.OnExitCodes == nil {
			continue
		}
		if r.OnExitCodes.ContainerName == nil || *r.OnExitCodes.ContainerName != "llmbatch" {
			t.Errorf("rule %s does not name the llmbatch container", r.Action)
		}
		if code, ok := want[r.Action]; ok && r.OnExitCodes.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && slices.Contains(r.OnExitCodes.Values, code) {
			delete(want, r.Action)
		}
		if slices.Contains(r.OnExitCodes.Values, 130) || slices.Contains(r.OnExitCodes.Values, 1) {
			t.Errorf("rule %s takes exit 1 or 130, which resume: leave them to retry the index", r.Action)
		}
	}
	for a, code := range want {
		t.Errorf("no %s rule for exit code %d", a, code)
	}

	// The args: a run with --shards = completions, the index from the env.
	args := c.Args
	if len(args) == 0 || args[0] != "run" {
		t.Fatalf("args %q do not start with run", args)
	}
	flags := map[string]string{}
	for i := 1; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name := strings.TrimLeft(a, "-")
		if !runFlags[name] {
			t.Errorf("llmbatch run has no flag %s", a)
		}
		if i+1 < len(args) {
			flags[name] = args[i+1]
		}
	}
	if n, _ := strconv.Atoi(flags["shards"]); int32(n) != *s.Completions {
		t.Errorf("--shards %q, completions %d: they must be equal", flags["shards"], *s.Completions)
	}
	if _, ok := flags["shard-index"]; ok {
		t.Errorf("--shard-index given: leave it to JOB_COMPLETION_INDEX")
	}

	// The key: from a Secret, or a local server's dummy.
	local := strings.HasPrefix(flags["base-url"], "http://127.0.0.1") || strings.HasPrefix(flags["base-url"], "http://localhost")
	var key *corev1.EnvVar
	for i := range c.Env {
		if c.Env[i].Name == "OPENAI_API_KEY" {
			key = &c.Env[i]
		}
	}
	switch {
	case key == nil:
		t.Errorf("no OPENAI_API_KEY in the container's env")
	case local && key.Value != "EMPTY" && key.ValueFrom == nil:
		t.Errorf("OPENAI_API_KEY of a local server: use a dummy or a Secret")
	case !local && (key.Value != "" || key.ValueFrom == nil || key.ValueFrom.SecretKeyRef == nil):
		t.Errorf("OPENAI_API_KEY is not taken from a Secret")
	}
	if local && len(pod.InitContainers) == 0 {
		t.Errorf("a local base URL without a sidecar server")
	}
	for _, ic := range pod.InitContainers {
		if ic.RestartPolicy == nil || *ic.RestartPolicy != corev1.ContainerRestartPolicyAlways || ic.StartupProbe == nil {
			t.Errorf("init container %s is not a native sidecar with a startup probe", ic.Name)
		}
	}

	// The journal on object storage, with the store's credentials from a
	// Secret, or on a volume that outlives the pod.
	out := flags["o"]
	if strings.HasPrefix(out, "s3://") {
		creds := 0
		for _, e := range c.Env {
			if strings.HasPrefix(e.Name, "AWS_") && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				creds++
			}
			if strings.HasPrefix(e.Name, "AWS_SECRET") && e.Value != "" {
				t.Errorf("%s written in the manifest: take it from a Secret", e.Name)
			}
		}
		if creds < 2 && pod.ServiceAccountName == "" {
			t.Errorf("a journal on S3 without credentials from a Secret or a service account")
		}
		return
	}
	found := false
	for _, m := range c.VolumeMounts {
		if !strings.HasPrefix(out, m.MountPath+"/") {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.PersistentVolumeClaim != nil && claims[v.PersistentVolumeClaim.ClaimName] {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("the journal %s is not on object storage nor on a PersistentVolumeClaim of this file: a restarted pod could not resume", out)
	}
}

// llmbatchFlags builds llmbatch from the repository and returns the flags
// "llmbatch run -h" lists.
func llmbatchFlags(t *testing.T) map[string]bool {
	bin := filepath.Join(t.TempDir(), "llmbatch")
	build := exec.Command("go", "build", "-o", bin, "./cmd/llmbatch")
	build.Dir = "../../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build llmbatch: %v\n%s", err, out)
	}
	var stderr bytes.Buffer
	help := exec.Command(bin, "run", "-h")
	help.Stderr = &stderr
	help.Stdout = &stderr
	help.Run()
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+-([a-zA-Z][\w-]*)`).FindAllStringSubmatch(stderr.String(), -1) {
		flags[m[1]] = true
	}
	if !flags["shards"] || !flags["o"] {
		t.Fatalf("llmbatch run -h lists no --shards or -o:\n%s", stderr.String())
	}
	return flags
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
