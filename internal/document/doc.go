// Package document holds the rules of build and batch documents, the
// resources clients see: a project's effective settings with a request's
// overrides (Apply), the document of a new build (NewBuild, Insert), and the
// phase bookkeeping of builds (Start, End, Complete, Open) and batches
// (BatchStart, BatchEnd, BatchOpen). It is pure but for Insert, which stores
// a new build through the store.Tx it is given.
package document
