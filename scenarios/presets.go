package scenarios

import (
	"strings"
	"time"

	"github.com/leaderlab/leaderlab/sim"
)

// Preset is the leader-election configuration a widely used controller
// ships with: its timing, whether it releases the lease when it stops, and
// the timeout its lock's requests have. These three decide what client-go's
// algorithm does under faults (Bounds), and they are what users of that
// controller run unless they changed them.
//
// Each preset was read from its project's source, at the version Version
// names; Verified says what of it was checked there and what was taken on
// trust. The simulator's candidates have a client timeout of max(RD/2, 1s)
// (leaderelection.NewResourceLock) or none (sim.Options.NoClientTimeout), so
// a preset can only carry one of those two: every controller in the table
// has one of them.
type Preset struct {
	// Name is what --timing and LookupPreset take.
	Name string
	// Controller names who ships these settings.
	Controller string
	// Timing is the shipped LeaseDuration, RenewDeadline and RetryPeriod.
	Timing sim.Timing
	// ReleaseOnCancel is whether the leader empties the lease when it stops.
	ReleaseOnCancel bool
	// ClientTimeout is the timeout of each lock request, as the controller's
	// source sets it; 0 means none (a client-go lock on a client whose
	// rest.Config has no Timeout). Non-zero, it is always max(RD/2, 1s), the
	// one the simulator gives its candidates (TestPresetsCarryWhatTheSimulatorCanExpress).
	ClientTimeout time.Duration
	// Source is the repository and the files the settings were read from.
	Source string
	// Version is the release or commit of Source that was read.
	Version string
	// Verified says which settings were checked in Source, and which were
	// not ("" means all were).
	Verified string
	// Note is what the simulator does not model about this controller's
	// election, if anything.
	Note string
}

// Config is cfg with the preset's timing, ReleaseOnCancel and client timeout.
func (p Preset) Config(cfg Config) Config {
	cfg.Timing, cfg.ReleaseOnCancel, cfg.NoClientTimeout = p.Timing, p.ReleaseOnCancel, p.ClientTimeout == 0
	return cfg
}

// Bounds is the arithmetic of the preset under latency lat per leg.
func (p Preset) Bounds(lat sim.Dist) Bounds {
	return BoundsFor(sim.Options{Timing: p.Timing, Latency: lat, ReleaseOnCancel: p.ReleaseOnCancel, NoClientTimeout: p.ClientTimeout == 0})
}

func secs(ld, rd int, rp time.Duration) sim.Timing {
	return sim.Timing{LeaseDuration: time.Duration(ld) * time.Second, RenewDeadline: time.Duration(rd) * time.Second, RetryPeriod: rp}
}

// Presets are the leader-election settings of widely used controllers, as
// their sources ship them. Prometheus Operator and external-dns are absent:
// they do not elect a leader.
var Presets = []Preset{
	{
		Name:       "default",
		Controller: "controller-runtime's manager and the kubebuilder v4 scaffold (also KEDA, cluster-api, AWS Load Balancer Controller, Argo CD ApplicationSet, which keep its defaults)",
		Timing:     secs(15, 10, 2*time.Second), ClientTimeout: 5 * time.Second,
		Source:   "kubernetes-sigs/controller-runtime pkg/manager/internal.go, pkg/leaderelection/leader_election.go",
		Version:  "v0.25.2",
		Verified: "controller-runtime's defaults and client timeout (v0.20 and later) checked; that KEDA, cluster-api, AWS Load Balancer Controller and Argo CD ApplicationSet keep them was not",
	},
	{
		Name:       "flux",
		Controller: "Flux controllers",
		Timing:     secs(35, 30, 5*time.Second), ReleaseOnCancel: true, ClientTimeout: 15 * time.Second,
		Source:   "fluxcd/pkg runtime/leaderelection/leaderelection.go (flags --leader-election-*), passed to controller-runtime's manager",
		Version:  "commit 0e9caec",
		Verified: "timing and ReleaseOnCancel defaults checked; the client timeout is controller-runtime's (v0.20 and later), whose version in each Flux controller was not checked",
	},
	{
		Name:       "crossplane",
		Controller: "Crossplane core",
		Timing:     secs(60, 50, 2*time.Second), ReleaseOnCancel: true, ClientTimeout: 25 * time.Second,
		Source:   "crossplane/crossplane cmd/crossplane/core/core.go (RetryPeriod: controller-runtime's default)",
		Version:  "commit 8774d10",
		Verified: "",
	},
	{
		Name:       "cert-manager",
		Controller: "cert-manager controller",
		Timing:     secs(60, 40, 15*time.Second), ReleaseOnCancel: true,
		Source:   "cert-manager/cert-manager internal/apis/config/shared/v1alpha1/defaults.go, cmd/controller/app/controller.go (resourcelock.New on the leader-election client)",
		Version:  "defaults at commit 64a5e1f",
		Verified: "timing, ReleaseOnCancel and the lock (resourcelock.New) checked; that the leader-election client's rest.Config has no Timeout was not traced",
	},
	{
		Name:       "cert-manager-cainjector",
		Controller: "cert-manager cainjector",
		Timing:     secs(60, 40, 15*time.Second), ReleaseOnCancel: true, ClientTimeout: 20 * time.Second,
		Source:   "cert-manager/cert-manager cmd/cainjector/app/controller.go (controller-runtime's manager), defaults as cert-manager's",
		Version:  "commit 120f0f2",
		Verified: "",
	},
	{
		Name:       "argo-rollouts",
		Controller: "Argo Rollouts",
		Timing:     secs(15, 10, 2*time.Second),
		Source:     "argoproj/argo-rollouts cmd/rollouts-controller/main.go, controller/controller.go",
		Version:    "not pinned",
		Verified:   "the timing defaults checked; ReleaseOnCancel (off) and the client timeout (none) were not",
	},
	{
		Name:       "kyverno",
		Controller: "Kyverno",
		Timing:     secs(12, 10, 2*time.Second),
		Source:     "kyverno/kyverno pkg/leaderelection/leaderelection.go (LD = 6 RP, RD = 5 RP, RP 2s; resourcelock.New on the shared client)",
		Version:    "commit 31fcb8b",
		Verified:   "timing, ReleaseOnCancel and the lock checked; that the shared client's rest.Config has no Timeout was not traced",
	},
	{
		Name:       "cilium-operator",
		Controller: "Cilium operator",
		Timing:     secs(15, 10, 2*time.Second), ReleaseOnCancel: true, ClientTimeout: 5 * time.Second,
		Source:   "cilium/cilium operator/cmd/leader_election.go (--leader-election-resource-lock-timeout: 0 means max(1s, RD/2))",
		Version:  "commit a970037",
		Verified: "timing and client timeout checked; ReleaseOnCancel (on) was not",
	},
	{
		Name:       "istio",
		Controller: "Istio istiod (its Lease elections)",
		Timing:     secs(30, 15, 7500*time.Millisecond), ReleaseOnCancel: true,
		Source:   "istio/istio pilot/pkg/leaderelection/leaderelection.go (ttl 30s, RD ttl/2, RP ttl/4)",
		Version:  "commit 483dc8a",
		Verified: "timing and ReleaseOnCancel checked; that istiod's kube client has no Timeout was not traced",
		Note: "istiod runs its own copy of client-go's elector (pilot/pkg/leaderelection/k8sleaderelection) with a key comparison that lets " +
			"the default revision take the lock from another. Most of its elections use a ConfigMap lock: the same record in an " +
			"annotation, with the same resourceVersion checks, so the arithmetic is the same; the per-revision elections " +
			"(gateway deployment) use a Lease. The simulator runs client-go's elector on a Lease without the key comparison: " +
			"the figures hold for one revision, not for a takeover between revisions",
	},
	{
		Name:       "ingress-nginx",
		Controller: "ingress-nginx",
		Timing:     secs(30, 15, 7500*time.Millisecond),
		Source:     "kubernetes/ingress-nginx internal/ingress/controller/status.go (--election-ttl 30s; RD ttl/2, RP ttl/4)",
		Version:    "not pinned",
		Verified:   "not checked: taken from the issue's table",
	},
	{
		Name:       "karpenter",
		Controller: "Karpenter",
		Timing:     secs(15, 10, 2*time.Second), ReleaseOnCancel: true, ClientTimeout: 5 * time.Second,
		Source:   "kubernetes-sigs/karpenter pkg/operator/operator.go (controller-runtime's manager)",
		Version:  "not pinned",
		Verified: "not checked: taken from the issue's table",
	},
	{
		Name:       "knative",
		Controller: "Knative, Tekton",
		Timing:     secs(60, 40, 10*time.Second), ReleaseOnCancel: true,
		Source:   "knative/pkg leaderelection/config.go",
		Version:  "commit 5d6a47e",
		Verified: "the timing defaults checked; ReleaseOnCancel (on) and the client timeout (none) were not, nor that Tekton keeps knative/pkg's defaults",
	},
	{
		Name:       "kube-controller-manager",
		Controller: "kube-controller-manager",
		Timing:     secs(15, 10, 2*time.Second), ClientTimeout: 5 * time.Second,
		Source:   "kubernetes/kubernetes cmd/kube-controller-manager/app/controllermanager.go (resourcelock.NewFromKubeconfig), component-base config/v1alpha1/defaults.go",
		Version:  "v1.37.2",
		Verified: "",
		Note:     "ReleaseOnCancel is behind the alpha feature gate ControllerManagerReleaseLeaderElectionLockOnExit, off by default",
	},
	{
		Name:       "kube-scheduler",
		Controller: "kube-scheduler",
		Timing:     secs(15, 10, 2*time.Second), ReleaseOnCancel: true, ClientTimeout: 5 * time.Second,
		Source:   "kubernetes/kubernetes cmd/kube-scheduler/app/options/options.go (resourcelock.NewFromKubeconfig), component-base config/v1alpha1/defaults.go",
		Version:  "v1.37.2",
		Verified: "",
	},
	{
		Name:       "openshift",
		Controller: "OpenShift operators (library-go), highly available clusters",
		Timing:     secs(137, 107, 26*time.Second), ReleaseOnCancel: true,
		Source:   "openshift/library-go pkg/config/leaderelection/leaderelection.go (LeaderElectionDefaulting; resourcelock.New on a copy of the caller's rest.Config)",
		Version:  "commit da7c185",
		Verified: "timing, ReleaseOnCancel and the lock checked; that callers' rest.Config has no Timeout was not traced",
		Note:     "the copy read elects over a ConfigMap and a Lease together (configmapsleases); the simulator elects over the Lease alone, which client-go's later versions also do",
	},
	{
		Name:       "openshift-sno",
		Controller: "OpenShift operators (library-go), single-node clusters",
		Timing:     secs(270, 240, 60*time.Second), ReleaseOnCancel: true,
		Source:   "openshift/library-go pkg/config/leaderelection/leaderelection.go (LeaderElectionSNOConfig)",
		Version:  "commit da7c185",
		Verified: "as openshift",
		Note:     "as openshift; a single-node cluster has one candidate, so no overlap can happen there: the figures are for the same settings with three",
	},
}

// LookupPreset returns the preset called name.
func LookupPreset(name string) (Preset, bool) {
	for _, p := range Presets {
		if p.Name == name {
			return p, true
		}
	}
	return Preset{}, false
}

// PresetNames is the names of Presets, comma-separated.
func PresetNames() string {
	names := make([]string, len(Presets))
	for i, p := range Presets {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}
