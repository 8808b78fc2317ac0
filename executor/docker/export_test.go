package docker

import (
	"context"
	"io"

	units "github.com/docker/go-units"
)

// SetObserveByInspect makes Observe inspect every container until the
// returned func is called.
func SetObserveByInspect(v bool) (restore func()) {
	old := observeByInspect
	observeByInspect = v
	return func() { observeByInspect = old }
}

// BuildContext builds context (with dockerfile in it) into tag, for
// tests that build local images; the image carries LabelImage "test".
func BuildContext(ctx context.Context, eng Engine, context io.Reader, tag, dockerfile string) error {
	return buildImage(ctx, eng, buildRequest{context: context, ref: tag, dockerfile: dockerfile, kind: "test"})
}

// SetAgentCapAdd adds caps to the agent's capabilities, and so to the
// verify probe's, in containers b makes from now on: the hook that
// shows verify failing on an agent given NET_RAW back.
func SetAgentCapAdd(b *Backend, caps ...string) { b.agentCapAdd = caps }

// LogCapBytes is the most a container's log keeps on disk: logMaxFiles
// files of logMaxSize.
func LogCapBytes() int64 {
	n, err := units.RAMInBytes(logMaxSize)
	if err != nil {
		panic(err)
	}
	return n * logMaxFiles
}
