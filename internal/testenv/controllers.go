package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// controllerManagerBinary is kube-controller-manager's file name in
// KUBEBUILDER_ASSETS (hack/envtest-assets.sh builds it there).
const controllerManagerBinary = "kube-controller-manager"

// readyTimeout bounds each of Start's checks that a controller works.
const readyTimeout = 30 * time.Second

// controllerManager is a running kube-controller-manager.
type controllerManager struct {
	cmd  *exec.Cmd
	dir  string      // holds its kubeconfig; removed once it has stopped
	out  *tailBuffer // its stdout and stderr
	done chan struct{}
	err  error // cmd.Wait's answer, once done is closed
}

// startControllerManager starts bin against the API server that kubeconfig
// (envtest's Environment.KubeConfig) reaches, with only the garbage collector
// and namespace controllers, and returns once both have been seen working.
func startControllerManager(bin string, kubeconfig []byte, cfg *rest.Config) (*controllerManager, error) {
	dir, err := os.MkdirTemp("", "leaderlab-kube-controller-manager-")
	if err != nil {
		return nil, fmt.Errorf("testenv: kube-controller-manager: %w", err)
	}
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, kubeconfig, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("testenv: kube-controller-manager: writing its kubeconfig: %w", err)
	}
	args := []string{
		"--kubeconfig=" + kc,
		"--controllers=garbagecollector,namespace",
		"--leader-elect=false",
		"--use-service-account-credentials=false",
		// No serving endpoint; its delegated authentication and authorization
		// still need a kubeconfig.
		"--secure-port=0",
		"--authentication-kubeconfig=" + kc,
		"--authorization-kubeconfig=" + kc,
	}
	m := &controllerManager{
		cmd:  exec.Command(bin, args...),
		dir:  dir,
		out:  &tailBuffer{max: 4 << 20},
		done: make(chan struct{}),
	}
	m.cmd.Stdout = m.out
	m.cmd.Stderr = m.out
	if err := m.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("testenv: starting %s: %w", bin, err)
	}
	go func() {
		m.err = m.cmd.Wait()
		close(m.done)
	}()
	if err := m.waitWorking(cfg); err != nil {
		err = fmt.Errorf("testenv: kube-controller-manager (%s %s): %w\n%s", bin, strings.Join(args, " "), err, m.tail())
		exited := m.exited() // then stop's own report of the exit would repeat err
		if stopErr := m.stop(); stopErr != nil && !exited {
			err = fmt.Errorf("%w\n(and stopping it: %v)", err, stopErr)
		}
		return nil, err
	}
	return m, nil
}

// waitWorking returns once the garbage collector has deleted the dependent of a
// deleted owner and the namespace controller has then removed their deleted
// namespace, each within readyTimeout; or early if the process exits.
func (m *controllerManager) waitWorking(cfg *rest.Config) error {
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = 10 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-m.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	exitErr := func(err error) error {
		if m.exited() {
			return fmt.Errorf("it exited before its controllers were seen working (%v)", m.err)
		}
		return err
	}

	ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "testenv-controllers-"},
	}, metav1.CreateOptions{})
	if err != nil {
		return exitErr(fmt.Errorf("creating its probe namespace: %w", err))
	}
	// Whatever happens, do not leave the probe namespace behind.
	defer func() {
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
	}()
	cms := cs.CoreV1().ConfigMaps(ns.Name)
	owner, err := cms.Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "owner"},
	}, metav1.CreateOptions{})
	if err != nil {
		return exitErr(fmt.Errorf("creating its probe owner ConfigMap: %w", err))
	}
	if _, err := cms.Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: "dependent",
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID,
			}},
		},
	}, metav1.CreateOptions{}); err != nil {
		return exitErr(fmt.Errorf("creating its probe dependent ConfigMap: %w", err))
	}
	background := metav1.DeletePropagationBackground
	if err := cms.Delete(ctx, owner.Name, metav1.DeleteOptions{PropagationPolicy: &background}); err != nil {
		return exitErr(fmt.Errorf("deleting its probe owner ConfigMap: %w", err))
	}
	if err := poll(ctx, func(ctx context.Context) error {
		_, err := cms.Get(ctx, "dependent", metav1.GetOptions{})
		return err
	}); err != nil {
		return exitErr(fmt.Errorf("the garbage collector did not delete ConfigMap %s/dependent within %v of its owner's deletion: %w", ns.Name, readyTimeout, err))
	}
	if err := cs.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil {
		return exitErr(fmt.Errorf("deleting its probe namespace: %w", err))
	}
	if err := poll(ctx, func(ctx context.Context) error {
		_, err := cs.CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{})
		return err
	}); err != nil {
		return exitErr(fmt.Errorf("the namespace controller did not remove namespace %s within %v of its deletion: %w", ns.Name, readyTimeout, err))
	}
	return nil
}

// poll calls get every 50 ms until it answers NotFound, for at most
// readyTimeout. It returns nil on NotFound, else the last answer.
func poll(ctx context.Context, get func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := get(ctx)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err == nil {
			err = errors.New("still there")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last answer: %v)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// exited reports whether the process has ended.
func (m *controllerManager) exited() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// stop kills the process and waits for it, then removes its directory. It
// reports an exit that came before the kill, with the end of the output.
func (m *controllerManager) stop() error {
	var err error
	if m.exited() {
		err = fmt.Errorf("testenv: kube-controller-manager had exited on its own (%v) before Stop:\n%s", m.err, m.tail())
	} else {
		if kerr := m.cmd.Process.Kill(); kerr != nil && !m.exited() {
			err = fmt.Errorf("testenv: killing kube-controller-manager: %w", kerr)
		}
		<-m.done
	}
	return errors.Join(err, os.RemoveAll(m.dir))
}

// output returns everything the process wrote (up to the last 4 MiB).
func (m *controllerManager) output() string { return m.out.String() }

// tail returns the end of the output, for error messages.
func (m *controllerManager) tail() string {
	const n = 40
	lines := strings.Split(strings.TrimRight(m.out.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "--- last lines of kube-controller-manager's output ---\n" + strings.Join(lines, "\n")
}

// tailBuffer is a concurrency-safe writer that keeps about the last max bytes.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over + b.max/4) // drop a quarter more, so trimming is rare
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
