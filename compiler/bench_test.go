package compiler

import "testing"

// BenchmarkCompile1000 compiles a manifest of 1000 agents in the default
// pool (4096 /28 subnets). Rerun with:
//
//	go test ./compiler -run '^$' -bench Compile1000 -benchmem
func BenchmarkCompile1000(b *testing.B) {
	m := manyAgents(1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(m, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
