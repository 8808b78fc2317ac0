//go:build !linux

package bundle

import "errors"

// probeRawSocket runs inside Linux containers only.
func probeRawSocket(string) (string, error) {
	return "", errors.New("the raw-socket probe runs on Linux only")
}
