// Command sleeper is the agent of the Docker tests: a static program that
// waits until it is stopped, so a FROM scratch image can run it.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
