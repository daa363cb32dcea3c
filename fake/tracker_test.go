package fake_test

import (
	"strconv"
	"strings"
	"sync"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	clienttesting "k8s.io/client-go/testing"

	"github.com/leaderlab/leaderlab/fake"
)

func configMap(name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Data: map[string]string{"n": "0"}}
}

// seeded returns the ConfigMaps client of a NewClientset seeded with the
// ConfigMap "c", and "c" as stored.
func seeded(t *testing.T) (corev1client.ConfigMapInterface, *corev1.ConfigMap) {
	t.Helper()
	cms := fake.NewClientset(configMap("c")).CoreV1().ConfigMaps(namespace)
	cm, err := cms.Get(ctx, "c", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cms, cm
}

func TestClientsetStaleUpdateIsConflict(t *testing.T) {
	cs := fake.NewClientset()
	leases, cms := cs.CoordinationV1().Leases(namespace), cs.CoreV1().ConfigMaps(namespace)

	lease, err := leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "l"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm, err := cms.Create(ctx, configMap("c"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lease.ResourceVersion == "" || cm.ResourceVersion == "" || lease.ResourceVersion == cm.ResourceVersion {
		t.Fatalf("create versions = %q, %q; want distinct, non-empty", lease.ResourceVersion, cm.ResourceVersion)
	}
	if lease.UID == "" || cm.UID == "" {
		t.Fatalf("create UIDs = %q, %q; want non-empty", lease.UID, cm.UID)
	}

	// One writer moves each object on; a second writer still holding the
	// first version must get 409, for a Lease and for any other resource.
	staleLease, staleCM := lease.DeepCopy(), cm.DeepCopy()
	lease.Spec.HolderIdentity = new("a")
	if _, err := leases.Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cm.Data["n"] = "1"
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	staleLease.Spec.HolderIdentity = new("b")
	if _, err := leases.Update(ctx, staleLease, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("stale lease update = %v, want Conflict", err)
	}
	staleCM.Data["n"] = "2"
	if _, err := cms.Update(ctx, staleCM, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("stale configmap update = %v, want Conflict", err)
	}
	got, err := leases.Get(ctx, "l", metav1.GetOptions{})
	if err != nil || *got.Spec.HolderIdentity != "a" {
		t.Fatalf("lease after the conflict = %v, %v; want holder a", got, err)
	}
}

func TestClientsetUpdateWithoutVersionIsUnconditional(t *testing.T) {
	cms, before := seeded(t)
	blind := configMap("c")
	blind.Data["n"] = "blind"
	after, err := cms.Update(ctx, blind, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update without resourceVersion = %v, want success", err)
	}
	if after.ResourceVersion == before.ResourceVersion || after.Data["n"] != "blind" {
		t.Fatalf("after = %+v; want the new data under a new version", after)
	}
	if _, err := cms.Update(ctx, configMap("missing"), metav1.UpdateOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("update of a missing object = %v, want NotFound", err)
	}
}

func TestClientsetCreate(t *testing.T) {
	cs := fake.NewClientset(configMap("seed"))
	cms := cs.CoreV1().ConfigMaps(namespace)
	seed, err := cms.Get(ctx, "seed", metav1.GetOptions{})
	if err != nil || seed.ResourceVersion == "" {
		t.Fatalf("seed object = %v, %v; want a resourceVersion", seed, err)
	}
	created, err := cms.Create(ctx, configMap("new"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := strconv.Atoi(created.ResourceVersion); strconv.Itoa(v) != created.ResourceVersion || created.ResourceVersion <= seed.ResourceVersion {
		t.Fatalf("versions seed %q, created %q; want increasing integers", seed.ResourceVersion, created.ResourceVersion)
	}
	if _, err := cms.Create(ctx, configMap("new"), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create = %v, want AlreadyExists", err)
	}
	withVersion := configMap("versioned")
	withVersion.ResourceVersion = "7"
	if _, err := cms.Create(ctx, withVersion, metav1.CreateOptions{}); !apierrors.IsBadRequest(err) {
		t.Fatalf("create with a resourceVersion = %v, want BadRequest", err)
	}
	withUID := configMap("uid")
	withUID.UID = "mine"
	if got, err := cms.Create(ctx, withUID, metav1.CreateOptions{}); err != nil || got.UID != "mine" {
		t.Fatalf("create with a UID = %v, %v; want the UID kept", got, err)
	}
}

func TestClientsetPatch(t *testing.T) {
	cms, before := seeded(t)

	patched, err := cms.Patch(ctx, "c", types.MergePatchType, []byte(`{"data":{"n":"1"}}`), metav1.PatchOptions{})
	if err != nil || patched.Data["n"] != "1" || patched.ResourceVersion == before.ResourceVersion {
		t.Fatalf("patch = %+v, %v; want n=1 under a new version", patched, err)
	}
	// An optimistic-lock patch (controller-runtime's MergeFromWithOptimisticLock)
	// carries the version it was computed from.
	stale := `{"metadata":{"resourceVersion":"` + before.ResourceVersion + `"},"data":{"n":"2"}}`
	if _, err := cms.Patch(ctx, "c", types.MergePatchType, []byte(stale), metav1.PatchOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("patch with a stale resourceVersion = %v, want Conflict", err)
	}
	current := `{"metadata":{"resourceVersion":"` + patched.ResourceVersion + `"},"data":{"n":"3"}}`
	if _, err := cms.Patch(ctx, "c", types.MergePatchType, []byte(current), metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch with the current resourceVersion = %v", err)
	}
}

func TestClientsetApplyAssignsVersion(t *testing.T) {
	cms, before := seeded(t)
	applied, err := cms.Apply(ctx, corev1ac.ConfigMap("c", namespace).WithData(map[string]string{"n": "9"}), metav1.ApplyOptions{FieldManager: "test", Force: true})
	if err != nil || applied.Data["n"] != "9" || applied.ResourceVersion == "" || applied.ResourceVersion == before.ResourceVersion {
		t.Fatalf("apply = %+v, %v; want n=9 under a new version", applied, err)
	}
}

func TestClientsetDeletePreconditions(t *testing.T) {
	cms, cm := seeded(t)

	for _, pre := range []metav1.Preconditions{
		{ResourceVersion: new("1" + cm.ResourceVersion)},
		{UID: new(types.UID("other"))},
	} {
		if err := cms.Delete(ctx, "c", metav1.DeleteOptions{Preconditions: &pre}); !apierrors.IsConflict(err) {
			t.Fatalf("delete with precondition %+v = %v, want Conflict", pre, err)
		}
	}
	if err := cms.Delete(ctx, "c", *metav1.NewPreconditionDeleteOptions(string(cm.UID))); err != nil {
		t.Fatalf("delete with matching UID = %v", err)
	}
	if err := cms.Delete(ctx, "c", metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("second delete = %v, want NotFound", err)
	}
	// An update naming the deleted object's UID is a conflict, as on a real server.
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("update of the deleted object = %v, want Conflict", err)
	}
}

// TestClientsetNoLostUpdates: concurrent read-modify-write loops that retry on
// conflict lose no increment, which only holds if stale writes are refused.
func TestClientsetNoLostUpdates(t *testing.T) {
	cms := fake.NewClientset(configMap("counter")).CoreV1().ConfigMaps(namespace)
	const writers, each = 8, 25
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				for {
					cm, err := cms.Get(ctx, "counter", metav1.GetOptions{})
					if err != nil {
						t.Error(err)
						return
					}
					n, _ := strconv.Atoi(cm.Data["n"])
					cm.Data["n"] = strconv.Itoa(n + 1)
					_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
					if err == nil {
						break
					}
					if !apierrors.IsConflict(err) {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	cm, _ := cms.Get(ctx, "counter", metav1.GetOptions{})
	if cm.Data["n"] != strconv.Itoa(writers*each) {
		t.Fatalf("counter = %s, want %d", cm.Data["n"], writers*each)
	}
}

func TestNewObjectTrackerAddsLists(t *testing.T) {
	tracker := fake.NewObjectTracker(clienttesting.NewObjectTracker(scheme.Scheme, scheme.Codecs.UniversalDecoder()))
	list := &corev1.ConfigMapList{Items: []corev1.ConfigMap{*configMap("a"), *configMap("b")}}
	if err := tracker.Add(list); err != nil {
		t.Fatal(err)
	}
	gvr := corev1.SchemeGroupVersion.WithResource("configmaps")
	a, err := tracker.Get(gvr, namespace, "a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := tracker.Get(gvr, namespace, "b")
	if err != nil {
		t.Fatal(err)
	}
	av, bv := a.(*corev1.ConfigMap).ResourceVersion, b.(*corev1.ConfigMap).ResourceVersion
	if av == "" || bv == "" || av == bv {
		t.Fatalf("versions %q, %q; want distinct, non-empty", av, bv)
	}
	if list.Items[0].ResourceVersion != "" {
		t.Fatal("Add changed the caller's object")
	}
}

func TestNewClientsetPanicsOnBadSeed(t *testing.T) {
	defer func() {
		if r, _ := recover().(string); !strings.HasPrefix(r, "fake: NewClientset: ") {
			t.Fatalf("panic = %q, want a fake: NewClientset: message", r)
		}
	}()
	fake.NewClientset(configMap("dup"), configMap("dup"))
}
