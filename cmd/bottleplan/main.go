// Command bottleplan validates, plans and applies sandboxes for coding
// agents. See doc.go.
package main

import "os"

func main() { os.Exit(Main()) }
