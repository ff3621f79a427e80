// Package migrations embeds the numbered SQL files that build the schema. The db package applies
// them in name order, each once, inside a transaction; River's own tables are migrated by rivermigrate.
package migrations

import "embed"

// FS holds the *.sql migration files.
//
//go:embed *.sql
var FS embed.FS
