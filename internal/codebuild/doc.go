// Package codebuild holds the CodeBuild API's shapes (Go types), their
// validation constraints and the operation table, all derived from the
// official service model by ./gen. It has no logic beyond validating a
// decoded request against the model, and imports no internal package.
package codebuild

//go:generate go run ./gen -model model/service-2.json.gz -out .
