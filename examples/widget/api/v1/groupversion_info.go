// Package v1 contains the API of the demo.leaderlab.example group, version
// v1: the Widget custom resource.
//
// +kubebuilder:object:generate=true
// +groupName=demo.leaderlab.example
package v1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of these objects.
	GroupVersion = schema.GroupVersion{Group: "demo.leaderlab.example", Version: "v1"}

	// SchemeBuilder registers the Go types of this group and version.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this group and version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
