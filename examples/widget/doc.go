// Package widget is a kubebuilder-style operator with a custom resource of
// its own, laid out as a user's project is: the Widget API in api/v1 (Go
// types, AddToScheme, deep copies), its CRD manifest as controller-gen
// writes it in config/crd/bases (defaults, an enum, a CEL rule in
// x-kubernetes-validations, the status subresource), the controller here and
// its main package in cmd.
//
// The controller puts a finalizer on every Widget, keeps a ConfigMap it
// controls holding the Widget's spec, and reports status.observedGeneration
// and a Ready condition through the status subresource; when the Widget is
// deleted it deletes the ConfigMap and removes the finalizer. Every write to
// an existing object names the resourceVersion it read, so a write that a
// deposed leader sent late is refused instead of undoing the next leader's.
//
// Its suite shows what a user gets from the simulator with nothing but the
// Go types and the manifest: the manager catalog (crash, handover, rolling
// restart, partitions, slow writes, overload, API server restarts) run by
// three real controller-runtime managers against an in-memory API server
// that serves Widgets with kube-apiserver's own defaulting, pruning and
// validation, and the same CEL refusal, message for message, on a real
// kube-apiserver (envtest).
package widget
