// Package operator is a small real operator, the one the examples run in the
// simulator: it mirrors the data of every ConfigMap labelled
// leaderlab.example/mirror=true into a ConfigMap named after it with the
// suffix -mirror, in the same namespace.
//
// It comes in two versions that differ in one line. The unguarded one
// patches the mirror with a plain merge patch, as many controllers write: a
// patch its leader sent just before losing the lease can land after the next
// leader wrote, and overwrite it with older data (a stale write; leader
// election gives no fencing). The guarded one names the resourceVersion the
// patch was based on, so the server refuses such a late patch instead.
package operator

import (
	"context"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/leaderlab/leaderlab/sim"
)

// Label marks the ConfigMaps the operator mirrors.
const Label = "leaderlab.example/mirror"

// Mirror is the operator. Guarded chooses the fixed version.
type Mirror struct {
	Guarded bool
}

// Setup adds the operator's reconciler to mgr: the function a main package
// calls after manager.New, and sim.Manager calls for every candidate.
func (m Mirror) Setup(mgr manager.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named("mirror").
		For(&corev1.ConfigMap{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetLabels()[Label] == "true" }))).
		Complete(reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
			return reconcile.Result{}, m.reconcile(ctx, mgr.GetClient(), req.NamespacedName)
		}))
}

func (m Mirror) reconcile(ctx context.Context, c client.Client, key types.NamespacedName) error {
	var src corev1.ConfigMap
	if err := c.Get(ctx, key, &src); err != nil {
		return client.IgnoreNotFound(err)
	}
	var dst corev1.ConfigMap
	err := c.Get(ctx, MirrorOf(key), &dst)
	if apierrors.IsNotFound(err) {
		dst = corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: MirrorOf(key).Name, Namespace: key.Namespace}, Data: src.Data}
		return c.Create(ctx, &dst)
	}
	if err != nil {
		return err
	}
	patch := client.MergeFrom(dst.DeepCopy())
	if m.Guarded {
		patch = client.MergeFromWithOptions(dst.DeepCopy(), client.MergeFromWithOptimisticLock{})
	}
	dst.Data = src.Data
	return c.Patch(ctx, &dst, patch)
}

// MirrorOf is the key of key's mirror.
func MirrorOf(key types.NamespacedName) types.NamespacedName {
	return types.NamespacedName{Namespace: key.Namespace, Name: key.Name + "-mirror"}
}

// Source is the ConfigMap the examples change: default/source.
var Source = types.NamespacedName{Namespace: "default", Name: "source"}

// Change is the i-th change of the examples' outside actor: it writes
// "v": i into Source (creating it the first time), through c.Client().
func Change(c *sim.Cluster, i int) error {
	ctx := context.Background()
	cl := c.Client()
	var cm corev1.ConfigMap
	err := cl.Get(ctx, Source, &cm)
	if apierrors.IsNotFound(err) {
		cm = corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: Source.Name, Namespace: Source.Namespace, Labels: map[string]string{Label: "true"}}}
		cm.Data = map[string]string{"v": strconv.Itoa(i)}
		return cl.Create(ctx, &cm)
	}
	if err != nil {
		return err
	}
	cm.Data = map[string]string{"v": strconv.Itoa(i)}
	return cl.Update(ctx, &cm)
}

// Mirrored reports whether Source's mirror holds the data Source holds now.
func Mirrored(c *sim.Cluster) bool {
	ctx := context.Background()
	var src, dst corev1.ConfigMap
	if c.Client().Get(ctx, Source, &src) != nil || c.Client().Get(ctx, MirrorOf(Source), &dst) != nil {
		return false
	}
	return dst.Data["v"] == src.Data["v"]
}
