// Command profplan runs what `bottleplan plan -o` does (schema.Load,
// compiler.Compile, plan.Encode, plan.Render) in process and writes pprof profiles,
// so the stages can be told apart:
//
//	go run ./bench/profplan -cpuprofile cpu.out -memprofile mem.out -heapprofile heap.out m10000.yaml
//	go tool pprof -top cpu.out
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/bottleplan/bottleplan/compiler"
	"github.com/bottleplan/bottleplan/plan"
	"github.com/bottleplan/bottleplan/schema"
)

func main() {
	cpu := flag.String("cpuprofile", "", "write a CPU profile to `file`")
	mem := flag.String("memprofile", "", "write an allocation profile to `file`")
	heap := flag.String("heapprofile", "", "write the live heap after encoding (plan and bytes still held) to `file`")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: profplan [-cpuprofile f] [-memprofile f] manifest.yaml")
		os.Exit(2)
	}
	if *cpu != "" {
		f, err := os.Create(*cpu)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	t0 := time.Now()
	m, err := schema.Load(flag.Arg(0))
	check(err)
	t1 := time.Now()
	p, err := compiler.Compile(m, compiler.Options{})
	check(err)
	t2 := time.Now()
	b, err := plan.Encode(p)
	check(err)
	t3 := time.Now()
	var review countWriter
	check(plan.Render(&review, p, plan.RenderOptions{}))
	t4 := time.Now()
	fmt.Printf("load %v, compile %v, encode %v (%d bytes), render %v (%d bytes)\n", t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), len(b), t4.Sub(t3), review)
	if *heap != "" {
		f, err := os.Create(*heap)
		check(err)
		runtime.GC()
		check(pprof.Lookup("heap").WriteTo(f, 0))
		check(f.Close())
		runtime.KeepAlive(p)
		runtime.KeepAlive(m)
	}
	if *mem != "" {
		f, err := os.Create(*mem)
		check(err)
		runtime.GC()
		check(pprof.Lookup("allocs").WriteTo(f, 0))
		check(f.Close())
	}
}

// countWriter counts what the review would print.
type countWriter int

func (c *countWriter) Write(b []byte) (int, error) {
	*c += countWriter(len(b))
	return len(b), nil
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "profplan:", err)
		os.Exit(1)
	}
}
