package leaderelection

// SetInClusterNamespacePath points the in-cluster namespace lookup at path for
// one test and returns the function that restores it.
func SetInClusterNamespacePath(path string) (restore func()) {
	old := inClusterNamespacePath
	inClusterNamespacePath = path
	return func() { inClusterNamespacePath = old }
}
