package widget

import (
	"context"
	"fmt"
	"maps"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	widgetv1 "github.com/leaderlab/leaderlab/examples/widget/api/v1"
)

// Finalizer holds a Widget until its controller has removed its ConfigMap.
const Finalizer = "demo.leaderlab.example/configmap"

// ConfigMapOf is the key of the ConfigMap that holds the spec of the Widget
// key names.
func ConfigMapOf(key types.NamespacedName) types.NamespacedName {
	return types.NamespacedName{Namespace: key.Namespace, Name: key.Name + "-widget"}
}

// Setup adds the Widget controller to mgr: the function a main package
// calls after manager.New, and sim.Manager calls for every candidate.
// mgr's scheme must know the Widget types (widgetv1.AddToScheme).
func Setup(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named("widget").
		For(&widgetv1.Widget{}).
		Owns(&corev1.ConfigMap{}).
		Complete(&Reconciler{Client: mgr.GetClient(), Scheme: mgr.GetScheme()})
}

// Reconciler reconciles Widgets. Every write it makes to an object that
// exists names the resourceVersion it read (an Update, a delete with
// preconditions): a write a deposed leader sent late is refused with a
// conflict instead of undoing what the next leader wrote.
type Reconciler struct {
	client.Client
	Scheme *runtime.Scheme
}

// +kubebuilder:rbac:groups=demo.leaderlab.example,resources=widgets,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=demo.leaderlab.example,resources=widgets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=demo.leaderlab.example,resources=widgets/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update;patch;delete

// Reconcile brings one Widget's ConfigMap and status up to date with its
// spec, or cleans up after a Widget being deleted.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var w widgetv1.Widget
	if err := r.Get(ctx, req.NamespacedName, &w); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !w.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, r.finalize(ctx, &w)
	}
	if controllerutil.AddFinalizer(&w, Finalizer) {
		if err := r.Update(ctx, &w); err != nil {
			return reconcile.Result{}, err
		}
	}
	if err := r.configMap(ctx, &w); err != nil {
		return reconcile.Result{}, err
	}
	return reconcile.Result{}, r.status(ctx, &w)
}

// Data is what w's ConfigMap holds.
func Data(w *widgetv1.Widget) map[string]string {
	return map[string]string{"replicas": strconv.Itoa(int(w.Spec.Replicas)), "color": w.Spec.Color}
}

// configMap creates w's ConfigMap, controlled by w, or updates its data.
func (r *Reconciler) configMap(ctx context.Context, w *widgetv1.Widget) error {
	key := ConfigMapOf(client.ObjectKeyFromObject(w))
	var cm corev1.ConfigMap
	err := r.Get(ctx, key, &cm)
	if apierrors.IsNotFound(err) {
		cm = corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}, Data: Data(w)}
		if err := controllerutil.SetControllerReference(w, &cm, r.Scheme); err != nil {
			return err
		}
		return r.Create(ctx, &cm)
	}
	if err != nil {
		return err
	}
	if !metav1.IsControlledBy(&cm, w) {
		return reconcile.TerminalError(fmt.Errorf("ConfigMap %s exists and is not controlled by Widget %s", key, w.Name))
	}
	if maps.Equal(cm.Data, Data(w)) {
		return nil
	}
	cm.Data = Data(w)
	return r.Update(ctx, &cm) // carries cm's resourceVersion
}

// status records that w's ConfigMap holds the spec of w's generation.
func (r *Reconciler) status(ctx context.Context, w *widgetv1.Widget) error {
	before := w.Status.DeepCopy()
	w.Status.ObservedGeneration = w.Generation
	meta.SetStatusCondition(&w.Status.Conditions, metav1.Condition{
		Type: widgetv1.ConditionReady, Status: metav1.ConditionTrue, Reason: "ConfigMapUpToDate",
		Message:            fmt.Sprintf("ConfigMap %s holds the spec", ConfigMapOf(client.ObjectKeyFromObject(w)).Name),
		ObservedGeneration: w.Generation,
	})
	if equality.Semantic.DeepEqual(before, &w.Status) {
		return nil
	}
	return r.Status().Update(ctx, w) // carries w's resourceVersion
}

// finalize deletes w's ConfigMap, then lets w go.
func (r *Reconciler) finalize(ctx context.Context, w *widgetv1.Widget) error {
	if !controllerutil.ContainsFinalizer(w, Finalizer) {
		return nil
	}
	var cm corev1.ConfigMap
	err := r.Get(ctx, ConfigMapOf(client.ObjectKeyFromObject(w)), &cm)
	switch {
	case err == nil && metav1.IsControlledBy(&cm, w):
		pre := client.Preconditions{UID: &cm.UID, ResourceVersion: &cm.ResourceVersion}
		if err := r.Delete(ctx, &cm, pre); client.IgnoreNotFound(err) != nil {
			return err
		}
	case client.IgnoreNotFound(err) != nil:
		return err
	}
	controllerutil.RemoveFinalizer(w, Finalizer)
	return r.Update(ctx, w) // carries w's resourceVersion
}
