// Package apiserver is an in-memory Kubernetes API server that real clients
// live on: client-go's typed, dynamic and discovery clients, informers, and
// controller-runtime's client, cache and manager reach it through
// Server.Config (an http.RoundTripper, no sockets) or through Server as an
// http.Handler. It is the simulator's API server (package sim), and it
// serves your custom resources from their CRDs with kube-apiserver's own
// rules.
//
// # What it serves
//
// Discovery (/api, /apis, /version), get, list (label selectors,
// metadata.name and metadata.namespace field selectors and a CRD's
// selectable fields, limit and continue, all namespaces), watch (from a
// resourceVersion out of a bounded event log, 410 Expired when it is older;
// watch-list with the k8s.io/initial-events-end bookmark; a bookmark every
// BookmarkInterval with allowWatchBookmarks; timeoutSeconds), create
// (generateName, AlreadyExists, the namespace must exist and not be
// terminating), update (409 on a stale resourceVersion or another UID, in
// kube-apiserver's words; unconditional when empty; no-op writes skipped),
// JSON, merge and strategic merge patches, server-side apply with field
// managers and conflicts, delete (preconditions; propagationPolicy's
// foregroundDeletion and orphan finalizers; finalizers keep the object with a
// deletionTimestamp; a deletion counts as a change for the generation) and
// deletecollection, dryRun=All on every write (every rule runs, nothing is
// stored), fieldValidation (unknown fields of a JSON or YAML body are
// warnings, or with Strict a 400), the metadata rules of every update (no new
// finalizers on an object being deleted), names checked per kind (a path
// segment for RBAC's kinds, a DNS label for namespaces and services, a DNS
// subdomain for most), the status subresource (keeping the write's metadata
// as the kind's status strategy does), the scale subresource of the
// workloads, a pod's eviction and binding, a CertificateSigningRequest's
// approval, a ServiceAccount's token, a namespace's finalize, and
// metadata.generation
// as kube-apiserver keeps it per kind (1 on create and one more per spec
// change for the workload kinds, 0 for most built-in kinds such as Lease and
// Service), for namespaced and cluster-scoped kinds of a runtime.Scheme
// (client-go's by default; WithScheme for your own Go types, WithKind for
// kinds known only by GVK), whole or as their metadata alone
// (PartialObjectMetadata, for metadata clients and informers). Built-in kinds
// are served in JSON and protobuf;
// every other kind is JSON only, as kube-apiserver serves custom resources: a
// client that accepts protobuf and JSON gets JSON, and a protobuf patch is
// 415 Unsupported Media Type.
//
// Every failure is the status error kube-apiserver sends. A request the
// server cannot serve though kube-apiserver would (a path of a built-in
// group it lacks, an unsupported verb or patch type) and every server error
// (5xx) of its own are answered and listed by Unserved, and told to
// OnUnserved, so they are never quiet: the simulator makes each an
// invariant violation. A path of any other group is an ordinary 404, as on
// a cluster where no CRD defines it yet. Server.Clientset is client-go's typed
// fake clientset on the same store, for code that takes a
// kubernetes.Interface. Server.Compact forgets the watch history, as a
// restarted kube-apiserver or etcd's compaction does.
//
// A request whose context carries a Replica (ServedBy) is served as one
// lagging kube-apiserver replica of an HA control plane serves it from its
// watch cache: reads that name a resourceVersion get the objects as they
// were at the replica's version, rebuilt from the event log, and watches
// send each change only when the replica's cache has it. The waits
// kube-apiserver adds for freshness (at most 3 s) are the caller's, who
// owns the clock; a 504 for a version newer than the cache is the replica's
// own answer, not a server error. Without a replica, a get or list that
// names a resourceVersion newer than the store's is answered the same 504,
// at once. Every answer whose status carries a retry delay has the
// Retry-After header, as kube-apiserver's do: client-go's REST client sends
// such a request again.
//
// # Controllers
//
// WithControllers runs what kube-controller-manager runs and every operator
// relies on, on the server's own store: the garbage collector (the
// dependents of a deleted owner go in the background, first in the
// foreground, or are orphaned) and the namespace controller (a deleted
// namespace is emptied, then goes). They act DefaultControllerDelay after a
// change, a cascade one level at a time. New runs neither, as envtest (which
// runs kube-apiserver alone): there a deleted namespace stays Terminating and
// dependents stay. The simulator runs both, in virtual time.
//
// # Custom resources
//
// WithCRDs takes CustomResourceDefinition values and WithCRDPaths takes
// manifest files and directories, read as envtest's CRDInstallOptions reads
// Paths (kubebuilder's config/crd/bases); a CRD created, changed or deleted
// at run time through apiextensions.k8s.io/v1 is served, changed or gone at
// once, and discovery follows. The rules are apiextensions-apiserver's own
// packages, composed as kube-apiserver's CRD handler composes them, never
// rewritten:
//
//   - a CRD is defaulted and validated as kube-apiserver validates one it is
//     asked to store (structural schema, CEL rules that compile, one storage
//     version): New fails, and a write through the API is 422 Invalid, with
//     kube-apiserver's message naming the CRD and the field;
//   - request bodies are pruned of unknown fields (unless
//     x-kubernetes-preserve-unknown-fields), their metadata checked, and the
//     schema's defaults applied, on create, update, patch and apply; the
//     unknown fields are Warning headers, or with fieldValidation Strict a
//     400, as kube-apiserver words them; objects stored before a CRD changed
//     read with its new defaults;
//   - the registry's strategy: create clears status and sets generation 1,
//     every change but metadata and status adds one, the status
//     subresource writes status only; the OpenAPI schema, list types and
//     x-kubernetes-validations (CEL, oldSelf transition rules,
//     messageExpression; compiled once per CRD version) refuse an invalid
//     object with kube-apiserver's 422, field paths and messages;
//   - the scale subresource (autoscaling/v1 Scale from the CRD's replica
//     and selector paths) and the status subresource only where declared;
//   - several versions with conversion strategy None: objects are stored at
//     the storage version and read at any served version;
//   - selectable fields as field selectors; server-side apply merges lists
//     by the schema's x-kubernetes-list-type and list-map keys.
//
// A Go type of yours in WithScheme with no CRD is served as before, with no
// schema; with a CRD, the CRD's rules serve it.
//
// An informer test on the server needs a few lines:
//
//	srv, err := apiserver.New(apiserver.WithCRDPaths("config/crd/bases"))
//	cs := kubernetes.NewForConfigOrDie(srv.Config())
//	factory := informers.NewSharedInformerFactory(cs, 0)
//	inf := factory.Core().V1().ConfigMaps().Informer()
//	factory.Start(ctx.Done())
//	cache.WaitForCacheSync(ctx.Done(), inf.HasSynced)
//
// The server passes one table of client-level contract tests together with
// kube-apiserver (through envtest), with the same expectations and the same
// CRD manifests; the one rule envtest cannot show within a test, 410
// Expired for a watch older than the server's history, is tested on this
// server alone.
//
// # Time
//
// Everything uses time.Now and timers and never sleeps or blocks while
// holding a mutex, so it works in real time and inside testing/synctest
// bubbles, where delays cost no wall time.
//
// # What it is not
//
// Not kube-apiserver: no admission (webhooks, built-in plugins or
// ValidatingAdmissionPolicy), no validation or defaulting of the built-in
// kinds' fields beyond unknown fields, names, metadata and the immutability
// of Secrets and ConfigMaps (a Pod without containers, or a change of a
// Deployment's selector, is stored: those rules live in kube-apiserver's
// internal packages, which a library cannot import), no authentication or authorization, no
// controllers but the two above (no PodDisruptionBudget status, so an
// eviction deletes the pod), no conversion webhooks (a CRD with strategy
// Webhook is refused).
//
// # Limitations, and why
//
//   - Each group version of a built-in kind is a store of its own: no
//     conversion between the versions of one resource (autoscaling/v1 and
//     v2 see different objects), because conversion needs the internal types
//     of kube-apiserver. A CRD's versions share one store.
//   - A list page after the first shows the objects as they are when it is
//     read, not the snapshot of the first page's resourceVersion: the store
//     keeps one version of each object, not etcd's history.
//   - Field selectors: metadata.name, metadata.namespace and a CRD's
//     selectable fields; the built-in per-kind ones (spec.nodeName,
//     status.phase) are 400 Bad Request, naming the field.
//   - managedFields record server-side applies, and the updates of objects
//     that were applied at least once; kube-apiserver records every update.
//     Computing field ownership on every write would cost each write many
//     times what the rest of it costs.
//   - metadata.generation of the built-in kinds follows a table of the kinds
//     that keep one (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job,
//     CronJob, ReplicationController, Pod, NetworkPolicy, Ingress,
//     IngressClass, PodDisruptionBudget, HorizontalPodAutoscaler,
//     FlowSchema, PriorityLevelConfiguration, ValidatingAdmissionPolicy and
//     its binding, DeviceClass; CSIDriver from 0), each checked against
//     kube-apiserver v1.37; the registry's strategies are not importable,
//     and a built-in kind not in the table keeps 0. Go types of yours without
//     a CRD count changes of spec only.
//   - A deleted CRD takes its custom resources with it at once (each gets a
//     DELETED event); kube-apiserver keeps the CRD Terminating until its
//     cleanup finalizer has deleted them.
//   - Without WithControllers, namespaces are finalized by no one: a deleted
//     namespace stays Terminating, as on envtest, and its objects stay too
//     (a client may finalize it itself, as controller-runtime's suites do).
//     The namespace controller here takes DefaultControllerDelay, where
//     kube-controller-manager's waits 5 s before it starts.
//   - The log, exec, proxy and attach subresources, the review groups
//     (authentication.k8s.io, authorization.k8s.io), API aggregation
//     (apiregistration.k8s.io) and aggregated discovery are not served (the
//     clients fall back to plain discovery). Of client-go's kinds, only the
//     group versions kube-apiserver v1.37 serves are served. A service
//     account token is an unsigned JWT no one verifies.
//   - Server-side apply of a Scale sets the replicas without tracking who
//     owns them.
//   - A fresh server has what a fresh kube-apiserver has: the four
//     namespaces and the default/kubernetes Service (without its Endpoints).
//   - A protobuf body for a custom resource is 400 Bad Request; kube-apiserver
//     answers so with fieldValidation Ignore, and with the default its
//     handler fails and drops the connection.
package apiserver
