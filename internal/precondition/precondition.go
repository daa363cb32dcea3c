// Package precondition is kube-apiserver's optimistic concurrency, in its
// wording: the checks every fake in this module makes before it writes, so
// that a client sees the same 409 Conflict, with the same message, from a fake
// lease, the fake clientset, the in-memory API server and a real cluster.
package precondition

import (
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// ModifiedMessage is the cause kube-apiserver's registry gives for a write
// based on a stale read.
const ModifiedMessage = "the object has been modified; please apply your changes to the latest version and try again"

var errModified = errors.New(ModifiedMessage)

// Key is an object's storage key, which kube-apiserver names in a UID
// precondition's message: /registry/PREFIX/[NAMESPACE/]NAME, where prefix is
// the resource ("leases", "deployments") for built-in kinds and
// GROUP/RESOURCE for custom resources.
func Key(prefix, namespace, name string) string {
	if namespace == "" {
		return "/registry/" + prefix + "/" + name
	}
	return "/registry/" + prefix + "/" + namespace + "/" + name
}

// Check checks a write (an update, a patch, an apply) against the stored
// object as kube-apiserver does, in its order: the UID the write names is a
// storage precondition, checked first and reported with the storage key;
// then its resourceVersion must be the stored one. An empty uid or
// resourceVersion checks nothing. stored is nil when the object is gone: a
// write naming a UID is then a Conflict (kube-apiserver compares with an
// empty object), one naming none is the caller's NotFound.
func Check(gr schema.GroupResource, key, name string, uid types.UID, resourceVersion string, stored metav1.Object) error {
	var storedUID types.UID
	if stored != nil {
		storedUID = stored.GetUID()
	}
	if uid != "" && uid != storedUID {
		return apierrors.NewConflict(gr, name, fmt.Errorf("StorageError: invalid object, Code: 4, Key: %s, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: %s, UID in object meta: %s", key, uid, storedUID))
	}
	if stored != nil && resourceVersion != "" && resourceVersion != stored.GetResourceVersion() {
		return apierrors.NewConflict(gr, name, errModified)
	}
	return nil
}

// CheckDelete checks a delete's preconditions as kube-apiserver's delete
// handler does, before the storage: the UID, then the resourceVersion; its
// messages name the kind, not the resource.
func CheckDelete(gk schema.GroupKind, name string, p *metav1.Preconditions, stored metav1.Object) error {
	if p == nil {
		return nil
	}
	kind := schema.GroupResource{Group: gk.Group, Resource: gk.Kind}
	if p.UID != nil && *p.UID != stored.GetUID() {
		return apierrors.NewConflict(kind, name, fmt.Errorf("the UID in the precondition (%s) does not match the UID in record (%s). The object might have been deleted and then recreated", *p.UID, stored.GetUID()))
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != stored.GetResourceVersion() {
		return apierrors.NewConflict(kind, name, fmt.Errorf("the ResourceVersion in the precondition (%s) does not match the ResourceVersion in record (%s). The object might have been modified", *p.ResourceVersion, stored.GetResourceVersion()))
	}
	return nil
}
