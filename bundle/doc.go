// Package bundle holds the sidecar daemons that run inside a bottle's
// bundle container (`bottleplan bundle serve`): the egress proxy, the git
// gate and the supervise endpoint. Their config comes from the plan.
package bundle
