package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WidgetSpec is the desired state of a Widget.
//
// +kubebuilder:validation:XValidation:rule="self.replicas <= 10",message="a widget runs at most 10 replicas"
type WidgetSpec struct {
	// replicas is how many copies of the widget run; 1 when not set.
	//
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:default=1
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// color is the widget's color; blue when not set.
	//
	// +kubebuilder:validation:Enum=blue;green;red
	// +kubebuilder:default=blue
	// +optional
	Color string `json:"color,omitempty"`
}

// WidgetStatus is the observed state of a Widget.
type WidgetStatus struct {
	// observedGeneration is the generation of the spec the controller last
	// acted on.
	//
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are the widget's conditions; Ready is True once its
	// ConfigMap holds the spec of observedGeneration.
	//
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// ConditionReady is the type of the condition that says whether a widget's
// ConfigMap holds its spec.
const ConditionReady = "Ready"

// Widget is a widget: the controller keeps a ConfigMap holding its spec.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
type Widget struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	//
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the desired state of the widget.
	//
	// +required
	Spec WidgetSpec `json:"spec"`

	// status is the state the controller observed.
	//
	// +optional
	Status WidgetStatus `json:"status,omitzero"`
}

// WidgetList is a list of Widgets.
//
// +kubebuilder:object:root=true
type WidgetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []Widget `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Widget{}, &WidgetList{})
}
