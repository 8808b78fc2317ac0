// Package plan is the plan file as plain data: the types, the canonical
// encoding (sorted keys, 2-space indent, trailing newline), the plan
// digest, a reader that refuses unknown format versions and altered
// files, the human review rendering, and the semantic diff of two plans.
//
// Standard library only: it must not import CUE, Docker or any other
// bottleplan package.
package plan
