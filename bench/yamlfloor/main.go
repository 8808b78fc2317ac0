// Command yamlfloor parses a YAML file with the parser bottleplan's loader
// uses (go.yaml.in/yaml/v3, into a node tree) and does nothing else: the
// floor that `bottleplan plan` is measured against in bench/run.sh.
//
//	go run ./bench/yamlfloor m1000.yaml
package main

import (
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: yamlfloor FILE.yaml")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "yamlfloor:", err)
		os.Exit(1)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		fmt.Fprintln(os.Stderr, "yamlfloor:", err)
		os.Exit(1)
	}
	fmt.Println(count(&doc), "nodes")
}

// count walks the tree, so the parse cannot be optimized away, and gives
// a number that tells the file was read whole.
func count(n *yaml.Node) int {
	c := 1
	for _, k := range n.Content {
		c += count(k)
	}
	return c
}
