// Package splitschema carries the example shop (its service manifests and
// migrations) inside the command, so that `splitschema demo` runs from any
// folder, not only from a clone of this repository.
package splitschema

import "embed"

// ExampleShop holds schemas/ and migrations/ of the example shop.
//
//go:embed schemas migrations
var ExampleShop embed.FS
