// The suite of the Widget operator, as its own project would write it: the
// manager catalog run by three real controller-runtime managers in the
// simulator, which serves Widgets from nothing but the Go types and the CRD
// manifest; a Widget reconciled there end to end; and the same writes on a
// real kube-apiserver (envtest), to show that the simulator refuses what
// kube-apiserver refuses, with the same status and message.
package widget_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/leaderlab/leaderlab/examples/widget"
	widgetv1 "github.com/leaderlab/leaderlab/examples/widget/api/v1"
	"github.com/leaderlab/leaderlab/internal/testenv"
	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/sim"
)

var suiteT *testing.T

func TestWidget(t *testing.T) {
	suiteT = t // the simulator needs the suite's *testing.T
	RegisterFailHandler(Fail)
	RunSpecs(t, "The Widget operator")
}

// scheme is client-go's scheme and the Widget types, as the operator's main
// builds it.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := widgetv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// crdPaths is where the project keeps its CRD manifests.
var crdPaths = []string{"config/crd/bases"}

// demo is the Widget the outside actor keeps changing.
var demo = types.NamespacedName{Namespace: "default", Name: "demo"}

var colors = []string{"blue", "green", "red"}

// change is the i-th change of the outside actor: it creates demo with its
// spec left to the CRD's defaults, then gives it a new spec each time (a
// merge patch of the spec alone, so that it never conflicts with the
// controller's own writes of demo's finalizers and status).
func change(c *sim.Cluster, i int) error {
	ctx := context.Background()
	cl := c.Client()
	var w widgetv1.Widget
	err := cl.Get(ctx, demo, &w)
	if apierrors.IsNotFound(err) {
		return cl.Create(ctx, &widgetv1.Widget{ObjectMeta: metav1.ObjectMeta{Name: demo.Name, Namespace: demo.Namespace}})
	}
	if err != nil {
		return err
	}
	patch := client.MergeFrom(w.DeepCopy())
	w.Spec = widgetv1.WidgetSpec{Replicas: int32(i%10 + 1), Color: colors[i%len(colors)]}
	return cl.Patch(ctx, &w, patch)
}

var controller = scenarios.Controller{Setup: widget.Setup, Scheme: scheme, CRDPaths: crdPaths, Change: change}

// Every scenario of the manager catalog.
var _ = scenarios.DescribeManagerCatalog(func() *testing.T { return suiteT }, controller, scenarios.Config{Seeds: []int64{1, 2}})

// unguarded makes the managers' client write as a controller without
// optimistic locking does: every Update, of an object or of its status, goes
// out as a merge patch of the whole object that names no resourceVersion.
// (Enough for the slow-writes scenario, which deletes nothing: such a patch
// cannot empty the finalizers, which the JSON then omits.)
func unguarded(o *manager.Options) {
	o.NewClient = func(cfg *rest.Config, opts client.Options) (client.Client, error) {
		c, err := client.New(cfg, opts)
		return mergePatching{c}, err
	}
}

type mergePatching struct{ client.Client }

func (c mergePatching) Update(ctx context.Context, obj client.Object, _ ...client.UpdateOption) error {
	obj.SetResourceVersion("")
	return c.Patch(ctx, obj, client.Merge)
}

func (c mergePatching) Status() client.SubResourceWriter {
	return mergePatchingStatus{c.Client.Status()}
}

type mergePatchingStatus struct{ client.SubResourceWriter }

func (s mergePatchingStatus) Update(ctx context.Context, obj client.Object, _ ...client.SubResourceUpdateOption) error {
	obj.SetResourceVersion("")
	return s.Patch(ctx, obj, client.Merge)
}

var _ = Describe("the controller without optimistic locking", func() {
	It("is caught writing stale data when its leader's writes are slow", func() {
		ctl := controller
		ctl.Options = []func(*manager.Options){unguarded}
		rep, _ := scenarios.SlowDataWritesOf(ctl).Run(suiteT, scenarios.Config{}, 1)
		Expect(rep).NotTo(BeNil())
		Expect(rep).NotTo(scenarios.HaveNoStaleWrites())
		Expect(rep.StaleWrites).To(ContainElement(And(
			HaveField("Write.Resource", "configmaps"),
			HaveField("Write.Name", widget.ConfigMapOf(demo).Name),
			HaveField("Write.Guarded", false),
			HaveField("Cause", sim.StaleInFlight),
		)))
	})
})

// simulate runs body in one simulated cluster, as a subtest of the suite so
// that the simulator's own failures land there, and fails the spec if the
// run failed.
func simulate(name string, opts sim.Options, body func(c *sim.Cluster)) *sim.Report {
	GinkgoHelper()
	opts.Scheme, opts.CRDPaths = scheme, crdPaths
	var rep *sim.Report
	ok := suiteT.Run(name, func(t *testing.T) { rep = sim.Test(t, opts, body) })
	Expect(ok).To(BeTrue(), "the simulated run %s failed; its subtest's log says why", name)
	Expect(rep).NotTo(BeNil())
	return rep
}

// expectReconciled checks that w was defaulted and reconciled: it holds the
// finalizer, cm is controlled by it and holds its spec, and its status
// says so for its generation.
func expectReconciled(g Gomega, w *widgetv1.Widget, cm *corev1.ConfigMap) {
	g.Expect(w.Spec).To(Equal(widgetv1.WidgetSpec{Replicas: 1, Color: "blue"}), "the CRD's defaults")
	g.Expect(w.Finalizers).To(ConsistOf(widget.Finalizer))
	g.Expect(w.Status.ObservedGeneration).To(Equal(w.Generation))
	ready := meta.FindStatusCondition(w.Status.Conditions, widgetv1.ConditionReady)
	g.Expect(ready).NotTo(BeNil(), "no Ready condition in %+v", w.Status)
	g.Expect(*ready).To(And(
		HaveField("Status", metav1.ConditionTrue),
		HaveField("Reason", "ConfigMapUpToDate"),
		HaveField("ObservedGeneration", w.Generation),
		HaveField("LastTransitionTime", Not(BeZero())),
	))
	g.Expect(metav1.GetControllerOf(cm)).To(HaveValue(And(
		HaveField("APIVersion", "demo.leaderlab.example/v1"),
		HaveField("Kind", "Widget"),
		HaveField("Name", w.Name),
		HaveField("UID", w.UID),
	)))
	g.Expect(cm.Data).To(Equal(map[string]string{"replicas": "1", "color": "blue"}))
}

var _ = Describe("a Widget in the simulator", func() {
	It("comes back defaulted, gets its finalizer, its ConfigMap and a Ready condition, and is cleaned up when deleted", func() {
		ctx := context.Background()
		var w widgetv1.Widget
		var cm corev1.ConfigMap
		var createErr, getErr, getCMErr, deleteErr, goneErr, cmGoneErr error
		rep := simulate("widget-reconciled", sim.Options{Seed: 1, Candidates: 3, Run: sim.Manager(widget.Setup)}, func(c *sim.Cluster) {
			cl := c.Client()
			createErr = cl.Create(ctx, &widgetv1.Widget{ObjectMeta: metav1.ObjectMeta{Name: demo.Name, Namespace: demo.Namespace}})
			c.AwaitLeader(time.Minute)
			c.Advance(10 * time.Second)
			getErr = cl.Get(ctx, demo, &w)
			getCMErr = cl.Get(ctx, widget.ConfigMapOf(demo), &cm)
			deleteErr = cl.Delete(ctx, w.DeepCopy())
			c.Advance(10 * time.Second)
			goneErr = cl.Get(ctx, demo, &widgetv1.Widget{})
			cmGoneErr = cl.Get(ctx, widget.ConfigMapOf(demo), &corev1.ConfigMap{})
		})
		Expect(createErr).NotTo(HaveOccurred())
		Expect(getErr).NotTo(HaveOccurred())
		Expect(getCMErr).NotTo(HaveOccurred())
		expectReconciled(Default, &w, &cm)
		Expect(deleteErr).NotTo(HaveOccurred())
		Expect(apierrors.IsNotFound(goneErr)).To(BeTrue(), "the deleted Widget: %v", goneErr)
		Expect(apierrors.IsNotFound(cmGoneErr)).To(BeTrue(), "its ConfigMap: %v", cmGoneErr)
		Expect(rep).To(And(scenarios.HaveWrittenData(), scenarios.HaveNoStaleWrites()))
	})
})

var _ = Describe("a Widget whose operator is gone", func() {
	// The cluster's garbage collector, not the operator, removes the
	// ConfigMap a deleted Widget controls: with every replica stopped and
	// the finalizer taken off by hand (what an administrator does for an
	// operator that was uninstalled), deleting the Widget still deletes its
	// ConfigMap, by its owner reference; without the garbage collector, as
	// on envtest, the ConfigMap stays.
	for _, gc := range []bool{true, false} {
		It(fmt.Sprintf("leaves its ConfigMap to the garbage collector (collector on: %v)", gc), func() {
			ctx := context.Background()
			var orphanErr error
			opts := sim.Options{Seed: 1, Candidates: 2, Run: sim.Manager(widget.Setup), DisableGarbageCollection: !gc}
			simulate(fmt.Sprintf("widget-gc-%v", gc), opts, func(c *sim.Cluster) {
				cl := c.Client()
				Expect(cl.Create(ctx, &widgetv1.Widget{ObjectMeta: metav1.ObjectMeta{Name: demo.Name, Namespace: demo.Namespace}})).To(Succeed())
				c.AwaitLeader(time.Minute)
				c.Advance(10 * time.Second)
				Expect(cl.Get(ctx, widget.ConfigMapOf(demo), &corev1.ConfigMap{})).To(Succeed(), "the operator made no ConfigMap")
				for _, cand := range []string{"c0", "c1"} {
					c.Stop(cand)
				}
				c.Advance(time.Minute)
				Expect(cl.Patch(ctx, &widgetv1.Widget{ObjectMeta: metav1.ObjectMeta{Name: demo.Name, Namespace: demo.Namespace}},
					client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))).To(Succeed())
				Expect(cl.Delete(ctx, &widgetv1.Widget{ObjectMeta: metav1.ObjectMeta{Name: demo.Name, Namespace: demo.Namespace}})).To(Succeed())
				c.Advance(time.Second)
				orphanErr = cl.Get(ctx, widget.ConfigMapOf(demo), &corev1.ConfigMap{})
			})
			Expect(apierrors.IsNotFound(orphanErr)).To(Equal(gc), "the ConfigMap of the deleted Widget: %v", orphanErr)
		})
	}
})

// status is the Status of an API error.
func status(err error) metav1.Status {
	var s apierrors.APIStatus
	if !errors.As(err, &s) {
		return metav1.Status{Message: "not an API error: " + err.Error()}
	}
	return s.Status()
}

// An invalid write: what it sends through cl, and the message kube-apiserver
// answers it with.
type invalidWrite struct {
	write   func(ctx context.Context, cl client.Client) error
	message string
}

var _ = Describe("on a real kube-apiserver (envtest)", Ordered, ContinueOnFailure, func() {
	var env *testenv.Env
	var real client.Client

	BeforeAll(func() {
		var err error
		env, err = testenv.Start()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(env.Stop)
		_, err = envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: crdPaths, ErrorIfPathMissing: true})
		Expect(err).NotTo(HaveOccurred())
		real, err = client.New(env.Config, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
	})

	DescribeTable("a write the CRD's schema refuses is refused by the simulator with kube-apiserver's 422 and message",
		func(w invalidWrite) {
			ctx := context.Background()
			var simErr error
			simulate("invalid-write", sim.Options{Seed: 1, Candidates: 1}, func(c *sim.Cluster) {
				simErr = w.write(ctx, c.Client())
			})
			realErr := w.write(ctx, real)
			Expect(realErr).To(MatchError(w.message), "kube-apiserver")
			Expect(apierrors.IsInvalid(realErr)).To(BeTrue(), "kube-apiserver: %v", realErr)
			Expect(simErr).To(HaveOccurred(), "the simulator accepted the write kube-apiserver refused with: %v", realErr)
			Expect(simErr.Error()).To(Equal(realErr.Error()), "the simulator's message, then kube-apiserver's")
			Expect(status(simErr)).To(Equal(status(realErr)), "the simulator's status, then kube-apiserver's")
		},
		Entry("a create that breaks the CEL rule", invalidWrite{
			write: func(ctx context.Context, cl client.Client) error {
				return cl.Create(ctx, &widgetv1.Widget{ObjectMeta: metav1.ObjectMeta{Name: "too-many", Namespace: "default"}, Spec: widgetv1.WidgetSpec{Replicas: 11}})
			},
			message: `Widget.demo.leaderlab.example "too-many" is invalid: spec: Invalid value: a widget runs at most 10 replicas`,
		}),
		Entry("an update that breaks the CEL rule", invalidWrite{
			write: func(ctx context.Context, cl client.Client) error {
				w := &widgetv1.Widget{ObjectMeta: metav1.ObjectMeta{Name: "grows", Namespace: "default"}, Spec: widgetv1.WidgetSpec{Replicas: 10}}
				if err := cl.Create(ctx, w); err != nil {
					return err
				}
				w.Spec.Replicas = 11
				return cl.Update(ctx, w)
			},
			message: `Widget.demo.leaderlab.example "grows" is invalid: spec: Invalid value: a widget runs at most 10 replicas`,
		}),
		Entry("a create with a color outside the enum", invalidWrite{
			write: func(ctx context.Context, cl client.Client) error {
				return cl.Create(ctx, &widgetv1.Widget{ObjectMeta: metav1.ObjectMeta{Name: "purple", Namespace: "default"}, Spec: widgetv1.WidgetSpec{Color: "purple"}})
			},
			// kube-apiserver skips the CEL rules of an object that fails
			// its OpenAPI schema, and says so.
			message: `Widget.demo.leaderlab.example "purple" is invalid: [spec.color: Unsupported value: "purple": supported values: "blue", "green", "red", ` +
				`<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]`,
		}),
	)

	It("reconciles a Widget with a manager as the simulator's managers do", func() {
		ctx, cancel := context.WithCancel(context.Background())
		mgr, err := manager.New(env.Config, manager.Options{
			Scheme:                 scheme,
			Logger:                 GinkgoLogr,
			Metrics:                metricsserver.Options{BindAddress: "0"},
			HealthProbeBindAddress: "0",
			Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(widget.Setup(mgr)).To(Succeed())
		done := make(chan error, 1)
		go func() { done <- mgr.Start(ctx) }()
		DeferCleanup(func() {
			cancel()
			Eventually(done).WithTimeout(time.Minute).Should(Receive(BeNil()))
		})

		Expect(real.Create(ctx, &widgetv1.Widget{ObjectMeta: metav1.ObjectMeta{Name: demo.Name, Namespace: demo.Namespace}})).To(Succeed())
		Eventually(func(g Gomega) {
			var w widgetv1.Widget
			var cm corev1.ConfigMap
			g.Expect(real.Get(ctx, demo, &w)).To(Succeed())
			g.Expect(real.Get(ctx, widget.ConfigMapOf(demo), &cm)).To(Succeed())
			expectReconciled(g, &w, &cm)
		}).WithTimeout(30 * time.Second).Should(Succeed())

		Expect(real.Delete(ctx, &widgetv1.Widget{ObjectMeta: metav1.ObjectMeta{Name: demo.Name, Namespace: demo.Namespace}})).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(apierrors.IsNotFound(real.Get(ctx, demo, &widgetv1.Widget{}))).To(BeTrue(), "the deleted Widget")
			g.Expect(apierrors.IsNotFound(real.Get(ctx, widget.ConfigMapOf(demo), &corev1.ConfigMap{}))).To(BeTrue(), "its ConfigMap")
		}).WithTimeout(30 * time.Second).Should(Succeed())
	})
})
