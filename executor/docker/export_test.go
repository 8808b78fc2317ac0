package docker

// SetObserveByInspect makes Observe inspect every container until the
// returned func is called.
func SetObserveByInspect(v bool) (restore func()) {
	old := observeByInspect
	observeByInspect = v
	return func() { observeByInspect = old }
}

// BuildContext is buildContext, for tests that build local images.
var BuildContext = buildContext
