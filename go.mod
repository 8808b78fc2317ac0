module github.com/bottleplan/bottleplan

go 1.26.8

require (
	github.com/google/go-cmp v0.7.0
	github.com/rogpeppe/go-internal v1.16.0
	github.com/spf13/pflag v1.1.0
	golang.org/x/crypto v0.59.0
)

require (
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/tools v0.50.0 // indirect
)
