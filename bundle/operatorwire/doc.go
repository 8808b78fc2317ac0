// Package operatorwire holds the JSON a bundle's operator API speaks
// (bundle/operator.go, reached through `bottleplan-bundle ctl` over the
// Engine's exec API): pending items, runtime grants and the bodies of
// the decisions. The bundle serves these types and the executor reads
// them; executor does not import bundle, so they live here, with no
// dependency of their own, as the probe's wire types live in
// bundle/probewire.
package operatorwire
