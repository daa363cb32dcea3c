package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/leaderlab/leaderlab/internal/testenv"
)

// The Indexed Job of docs/ is accepted by a real kube-apiserver (a
// server-side dry-run create, which runs validation and defaulting but
// stores nothing), runs one shard per index with the shard count it
// declares, shares one volume with the merge Job, and the merge Job merges
// exactly that many shards.
func TestIndexedJobManifestIsAcceptedByTheAPIServer(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "indexed-job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	cs := kubernetes.NewForConfigOrDie(env.Config)
	ctx := context.Background()
	dry := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}

	var jobs []*batchv1.Job
	var claims []string
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var doc json.RawMessage
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if len(doc) == 0 || string(doc) == "null" {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		switch o := obj.(type) {
		case *corev1.PersistentVolumeClaim:
			if _, err := cs.CoreV1().PersistentVolumeClaims("default").Create(ctx, o, dry); err != nil {
				t.Errorf("dry-run create of PersistentVolumeClaim %s: %v", o.Name, err)
			}
			claims = append(claims, o.Name)
		case *batchv1.Job:
			if _, err := cs.BatchV1().Jobs("default").Create(ctx, o, dry); err != nil {
				t.Errorf("dry-run create of Job %s: %v", o.Name, err)
			}
			jobs = append(jobs, o)
		default:
			t.Errorf("unexpected object %T in the manifest", obj)
		}
	}
	if len(jobs) != 2 || len(claims) != 1 {
		t.Fatalf("%d jobs and %d claims, want the shards' Job, the merge Job and one shared claim", len(jobs), len(claims))
	}
	shards, merge := jobs[0], jobs[1]
	if shards.Spec.CompletionMode == nil || *shards.Spec.CompletionMode != batchv1.IndexedCompletion {
		t.Errorf("%s: completionMode %v, want Indexed", shards.Name, shards.Spec.CompletionMode)
	}
	n := envValue(t, shards, "SHARDS")
	if c := strconv.Itoa(int(*shards.Spec.Completions)); c != n || strconv.Itoa(int(*shards.Spec.Parallelism)) != n {
		t.Errorf("%s: completions %s, parallelism %d, want both SHARDS=%s: one shard per index", shards.Name, c, *shards.Spec.Parallelism, n)
	}
	if envValue(t, merge, "SHARDS") != n {
		t.Errorf("%s merges SHARDS=%s shards, %s runs %s", merge.Name, envValue(t, merge, "SHARDS"), shards.Name, n)
	}
	for _, want := range []struct {
		job  *batchv1.Job
		text string
	}{
		{shards, "leaderlab bench"}, {shards, "--shard $((JOB_COMPLETION_INDEX + 1))/${SHARDS} --out /partials"},
		{merge, "leaderlab merge /partials/partial-*-of-${SHARDS}.json"},
	} {
		if args := strings.Join(want.job.Spec.Template.Spec.Containers[0].Args, " "); !strings.Contains(args, want.text) {
			t.Errorf("%s runs %q, which lacks %q", want.job.Name, args, want.text)
		}
	}
	for _, j := range jobs {
		v := j.Spec.Template.Spec.Volumes
		if len(v) != 1 || v[0].PersistentVolumeClaim == nil || v[0].PersistentVolumeClaim.ClaimName != claims[0] {
			t.Errorf("%s does not mount the shared claim %s: %+v", j.Name, claims[0], v)
		}
	}
}

func envValue(t *testing.T, j *batchv1.Job, name string) string {
	t.Helper()
	for _, e := range j.Spec.Template.Spec.Containers[0].Env {
		if e.Name == name {
			return e.Value
		}
	}
	t.Fatalf("%s has no %s", j.Name, name)
	return ""
}
