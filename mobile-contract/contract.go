// Package mobilecontract holds the HTTP contract the mportal apps are built against: an OpenAPI
// 3.1 document that describes every endpoint, its request and response bodies and its problem
// responses. The API serves it at /v1/openapi.yaml, and internal/contracttest validates every
// request and response of the end-to-end tests against it, so the document cannot drift from
// the server.
package mobilecontract

import _ "embed"

// OpenAPI is the contract as YAML (openapi.yaml in this directory). It is served verbatim at
// GET /v1/openapi.yaml; treat it as read-only.
//
//go:embed openapi.yaml
var OpenAPI []byte
